from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.routing import Route

from points.audit.models import AuditEntry
from points.org.models import RoleAssignment
from tests.support.factories import csrf_from, login
from tests.support.org import Org
from tests.support.services import Store


def nav_labels(html: str) -> list[str]:
    nav = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r"<span>([^<]+)</span></a>", nav)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("employee", ["我的积分", "排行榜", "兑换商城"]),
        ("head", ["我的积分", "排行榜", "看板", "兑换商城", "申诉", "审批", "更多"]),
        (
            "hr",
            # More than five: a phone shows the first four and 更多 (the rest stay on desktop).
            ["我的积分", "排行榜", "看板", "员工", "兑换商城", "规则", "申诉", "兑换管理", "更多"],
        ),
        (
            "admin",
            [
                "我的积分",
                "排行榜",
                "看板",
                "员工",
                "兑换商城",
                "规则",
                "申诉",
                "管理",
                "更多",
            ],
        ),
    ],
)
async def test_each_role_sees_its_own_navigation(
    client: httpx.AsyncClient, org: Org, who: str, expected: list[str]
) -> None:
    person = {"employee": org.employee, "head": org.head, "hr": org.hr, "admin": org.admin}[who]
    await login(client, person.userid)
    home = await client.get("/")
    assert home.status_code == 200
    assert f"你好，{person.name}" in home.text
    assert nav_labels(home.text) == expected


async def test_pages_need_a_login(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.get("/admin/audit")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/audit"


async def _counts(pg: Store) -> tuple[int, int]:
    async with pg.db.session() as session:
        roles = (await session.exec(select(func.count()).select_from(RoleAssignment))).one()
        audits = (await session.exec(select(func.count()).select_from(AuditEntry))).one()
        return roles, audits


async def test_an_employee_opening_admin_urls_gets_403_and_changes_nothing(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await login(client, org.employee.userid)
    before = await _counts(pg)
    for path in ("/admin/audit", "/admin/roles", "/people", "/department"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "你没有权限执行此操作" in response.text
    token = csrf_from((await client.get("/")).text)
    grant = await client.post(
        "/admin/roles", data={"csrf_token": token, "userid": org.employee.userid, "role": "admin"}
    )
    assert grant.status_code == 403
    assert await _counts(pg) == before


async def test_a_cross_site_form_post_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await login(client, org.admin.userid)
    before = await _counts(pg)
    forged = await client.post(
        "/admin/roles", data={"userid": org.employee.userid, "role": "admin"}
    )
    assert forged.status_code == 403
    assert "表单已过期" in forged.text
    wrong = await client.post(
        "/admin/roles", data={"userid": org.employee.userid, "role": "admin", "csrf_token": "guess"}
    )
    assert wrong.status_code == 403
    assert await _counts(pg) == before


async def test_every_state_changing_route_checks_csrf(
    app: Starlette, client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.admin.userid)
    unsafe = [
        r.path
        for r in app.routes
        if isinstance(r, Route)
        and r.methods
        and set(r.methods) - {"GET", "HEAD"}
        and not r.path.startswith(("/api/", "/wecom/"))
    ]
    assert "/admin/roles" in unsafe
    for path in unsafe:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = await client.post(concrete, data={"x": "1"})
        assert response.status_code == 403, path


async def test_admin_grants_a_role_and_it_is_audited(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await login(client, org.admin.userid)
    token = csrf_from((await client.get("/admin/roles")).text)
    response = await client.post(
        "/admin/roles",
        data={
            "csrf_token": token,
            "userid": org.colleague.userid,
            "role": "head",
            "department_id": str(org.east.id),
        },
    )
    assert response.status_code == 303
    audit = await client.get("/admin/audit", params={"action": "role.grant"})
    assert "lisi" in audit.text
    # The new head now sees their department.
    await client.post("/logout", data={"csrf_token": token})
    await login(client, org.colleague.userid)
    assert (await client.get("/department")).status_code == 200


async def test_login_is_audited_and_unknown_people_cannot_log_in(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    page = await client.get("/login")
    bad = await client.post("/login", data={"userid": "nobody", "csrf_token": csrf_from(page.text)})
    assert bad.status_code == 422
    await login(client, org.head.userid)
    async with pg.db.session() as session:
        rows = (await session.exec(select(AuditEntry).where(AuditEntry.action == "login"))).all()
    assert [(r.actor, r.details["method"]) for r in rows] == [("wangwu", "dev")]


async def test_login_never_redirects_off_site(client: httpx.AsyncClient, org: Org) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "userid": org.employee.userid,
            "csrf_token": csrf_from(page.text),
            "next": "//evil.example/steal",
        },
    )
    assert response.headers["location"] == "/"


async def test_a_head_sees_only_their_subtree(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.head.userid)
    mine = await client.get("/department", params={"department": org.sales.id})
    assert "张三" in mine.text and "周八" not in mine.text
    other = await client.get("/department", params={"department": org.finance.id})
    assert other.status_code == 403
    bad = await client.get("/department", params={"department": "abc"})
    assert bad.status_code == 422


async def test_htmx_requests_get_only_the_fragment(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.hr.userid)
    full = await client.get("/people", params={"q": "张"})
    fragment = await client.get("/people", params={"q": "张"}, headers={"HX-Request": "true"})
    assert "<html" in full.text and "<html" not in fragment.text
    assert "张三" in fragment.text and "赵六" not in fragment.text


async def test_admin_creates_and_revokes_an_api_token(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await login(client, org.admin.userid)
    page = await client.get("/admin/tokens")
    created = await client.post(
        "/admin/tokens",
        data={"csrf_token": csrf_from(page.text), "name": "office-screen", "role": "hr"},
    )
    token = re.search(r'data-testid="new-token">([^<]+)<', created.text)
    assert token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert (await client.get("/api/v1/employees", headers=headers)).status_code == 200
    async with pg.db.session() as session:
        from points.auth.models import ApiToken

        row = (await session.exec(select(ApiToken))).one()
    await client.post(
        "/admin/tokens",
        data={"csrf_token": csrf_from(page.text), "action": "revoke", "token_id": str(row.id)},
    )
    assert (await client.get("/api/v1/employees", headers=headers)).status_code == 401
    audit = await client.get("/admin/audit")
    assert "token.create" in audit.text and "token.revoke" in audit.text
