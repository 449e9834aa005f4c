"""WeCom login (OAuth and web login), the connection page, approval deadlines."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import select

from points.audit.models import AuditEntry
from points.devtools.fake_wecom import FakeWeCom
from points.org.models import Role
from points.wecom.policy import load_policy
from tests.support.factories import csrf_from, login, make_department, make_employee
from tests.support.services import Store


async def _staff(store: Store) -> None:
    async with store.db.session() as session:
        team = await make_department(session)
        await make_employee(session, team, userid="zhangsan", name="张三")
        await make_employee(session, team, userid="sunqi", name="孙七", role=Role.admin)
        await make_employee(session, team, userid="zhaoliu", name="赵六", role=Role.hr)
        await session.commit()


async def _start(web: httpx.AsyncClient, **headers: str) -> tuple[str, dict[str, list[str]]]:
    response = await web.get("/login/wecom", params={"next": "/history"}, headers=headers)
    assert response.status_code == 302
    location = response.headers["location"]
    return location, parse_qs(urlsplit(location).query)


async def test_login_redirects_to_wecom_with_a_random_state(web: httpx.AsyncClient) -> None:
    desktop, query = await _start(web)
    assert desktop.startswith("https://login.work.weixin.qq.com/wwlogin/sso/login?")
    assert query["redirect_uri"] == ["https://points.example.com/login/wecom/callback"]
    inside, inside_query = await _start(web, **{"User-Agent": "Mozilla/5.0 wxwork/4.1.0"})
    assert inside.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?")
    assert inside.endswith("#wechat_redirect")
    assert inside_query["scope"] == ["snsapi_base"] and inside_query["agentid"] == ["1000002"]
    assert len(query["state"][0]) >= 20 and query["state"] != inside_query["state"]


async def test_login_with_a_wecom_code_maps_the_userid(
    web: httpx.AsyncClient, pg: Store, fake: FakeWeCom
) -> None:
    await _staff(pg)
    _location, query = await _start(web)
    response = await web.get(
        "/login/wecom/callback", params={"code": "code-zhangsan", "state": query["state"][0]}
    )
    assert response.status_code == 303 and response.headers["location"] == "/history"
    assert (await web.get("/")).status_code == 200
    async with pg.db.session() as session:
        entry = (await session.exec(select(AuditEntry).where(AuditEntry.action == "login"))).one()
    assert (entry.actor, entry.details) == ("zhangsan", {"method": "wecom"})


async def test_a_state_mismatch_is_refused(
    web: httpx.AsyncClient, pg: Store, fake: FakeWeCom
) -> None:
    await _staff(pg)
    await _start(web)
    response = await web.get(
        "/login/wecom/callback", params={"code": "code-zhangsan", "state": "forged-state"}
    )
    assert response.status_code == 403
    assert "code-zhangsan" in fake.oauth_codes  # the code was never even exchanged
    assert (await web.get("/")).status_code == 303  # still logged out


async def test_someone_who_is_not_an_employee_is_refused(
    web: httpx.AsyncClient, pg: Store, fake: FakeWeCom
) -> None:
    await _staff(pg)
    fake.oauth_codes["code-stranger"] = "stranger"
    _location, query = await _start(web)
    response = await web.get(
        "/login/wecom/callback", params={"code": "code-stranger", "state": query["state"][0]}
    )
    assert response.status_code == 403
    assert "not an active employee" in response.text or "不是" in response.text


async def test_the_login_page_offers_wecom(web: httpx.AsyncClient) -> None:
    page = await web.get("/login")
    assert 'data-testid="wecom-login"' in page.text


async def test_the_connection_page_shows_the_url_and_tests_the_connection(
    web: httpx.AsyncClient, pg: Store, fake: FakeWeCom
) -> None:
    await _staff(pg)
    await login(web, "sunqi")
    page = await web.get("/admin/wecom")
    assert page.status_code == 200
    assert "https://points.example.com/wecom/callback" in page.text
    token = csrf_from(page.text)
    ok = await web.post("/admin/wecom", data={"action": "test", "csrf_token": token})
    assert ok.status_code == 200 and 'class="flash ok"' in ok.text
    fake.untrusted_ip = True
    refused = await web.post("/admin/wecom", data={"action": "test", "csrf_token": token})
    assert "60020" in refused.text and "可信" in refused.text


async def test_employees_cannot_see_the_connection_page(web: httpx.AsyncClient, pg: Store) -> None:
    await _staff(pg)
    await login(web, "zhangsan")
    assert (await web.get("/admin/wecom")).status_code == 403


async def test_hr_sets_an_approval_deadline(web: httpx.AsyncClient, pg: Store) -> None:
    await _staff(pg)
    await login(web, "zhaoliu")
    page = await web.get("/rules/approval-deadlines")
    assert page.status_code == 200 and "报销" in page.text
    saved = await web.post(
        "/rules/approval-deadlines",
        data={
            "csrf_token": csrf_from(page.text),
            "action": "save",
            "template": "报销",
            "enabled": "on",
            "max_hours_after": "24",
            "titles": "费用日期，报销日期",
            "controls": "Date",
        },
    )
    assert saved.status_code == 303
    async with pg.db.session() as session:
        rule = (await load_policy(session)).rules["报销"]
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "wecom.policy.save"))
        ).one()
    assert (rule.max_hours_after, rule.titles) == (24.0, ("费用日期", "报销日期"))
    assert audit.actor == "zhaoliu"
