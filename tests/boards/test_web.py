from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from points.audit.models import AuditEntry
from points.calendar import Period, key_at
from points.db import utcnow
from points.org.models import Employee, Role
from tests.support.boards import SHANGHAI, award
from tests.support.factories import csrf_from, login, make_token
from tests.support.org import Org
from tests.support.services import Store


async def _seed_points(pg: Store, org: Org) -> None:
    async with pg.db.session() as session:
        await award(session, org.employee, 12, "2026-11-10T10:00:00")
        await award(session, org.colleague, 7, "2026-11-11T10:00:00")
        await award(session, org.outsider, 3, "2026-11-12T10:00:00")
        await session.commit()


async def _audit(pg: Store, action: str) -> list[AuditEntry]:
    async with pg.db.session() as session:
        rows = await session.exec(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_everyone_sees_the_board_but_not_the_dashboard_or_exports(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await _seed_points(pg, org)
    await login(client, "zhangsan")
    page = await client.get("/boards?period=month&key=2026-11")
    assert page.status_code == 200
    assert "张三" in page.text and "李四" in page.text and 'href="/boards"' in page.text
    assert 'href="/dashboard"' not in page.text
    for path in ("/dashboard", "/dashboard/export.csv", "/boards/export.csv?key=2026-11"):
        assert (await client.get(path)).status_code == 403, path


async def test_a_head_sees_only_their_subtree_and_their_quiet_members(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await _seed_points(pg, org)
    await login(client, "wangwu")
    own = await client.get("/dashboard?period=month")
    assert own.status_code == 200
    assert "销售部" in own.text and "<svg" in own.text
    assert "近 14 天无活动" in own.text and "李四" in own.text
    assert (await client.get(f"/dashboard?department={org.east.id}")).status_code == 200
    assert (await client.get(f"/dashboard?department={org.finance.id}")).status_code == 403
    assert (await client.get("/dashboard/export.csv")).status_code == 403


async def test_hr_exports_are_csv_with_a_bom_and_audited(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await _seed_points(pg, org)
    await login(client, "zhaoliu")
    page = await client.get(f"/dashboard?department={org.sales.id}")
    assert page.status_code == 200
    assert "近 14 天无活动" not in page.text  # the coaching list is the head's alone
    board = await client.get("/boards/export.csv?period=month&key=2026-11")
    assert board.status_code == 200
    assert board.content.startswith("\ufeff".encode())
    lines = board.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("1,zhangsan,张三")
    figures = await client.get(f"/dashboard/export.csv?department={org.sales.id}")
    assert figures.status_code == 200 and figures.content.startswith(b"\xef\xbb\xbf")
    departments = await client.get("/boards/export.csv?view=departments&key=2026-11")
    assert departments.status_code == 200
    assert [e.actor for e in await _audit(pg, "export.board")] == ["zhaoliu"]
    assert len(await _audit(pg, "export.dashboard")) == 1
    assert len(await _audit(pg, "export.department_board")) == 1


async def test_opting_out_needs_csrf_is_audited_and_hides_the_name(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await _seed_points(pg, org)
    await login(client, "zhangsan")
    refused = await client.post("/boards/opt-out", data={"opt_out": "1"})
    assert refused.status_code == 403
    page = await client.get("/boards")
    done = await client.post(
        "/boards/opt-out", data={"opt_out": "1", "csrf_token": csrf_from(page.text)}
    )
    assert done.status_code == 303
    assert [e.actor for e in await _audit(pg, "board.opt_out")] == ["zhangsan"]
    own = await client.get("/boards?period=month&key=2026-11")
    assert "张三" in own.text  # still sees themselves
    await login(client, "lisi")
    other = await client.get("/boards?period=month&key=2026-11")
    assert "匿名同事" in other.text and "张三" not in other.text
    async with pg.db.session() as session:
        person = (await session.exec(select(Employee).where(Employee.userid == "zhangsan"))).one()
    assert person.board_opt_out


async def test_the_api_answers_boards_and_scopes_dashboards(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await _seed_points(pg, org)
    async with pg.db.session() as session:
        employee = await make_token(session, Role.employee, "lisi")
        head = await make_token(session, Role.head, "wangwu")
        await session.commit()
    as_employee = {"Authorization": f"Bearer {employee}"}
    board = await client.get(
        f"/api/v1/leaderboards/month?key=2026-11&scope=department:{org.sales.id}&limit=1",
        headers=as_employee,
    )
    assert board.status_code == 200, board.text
    body = board.json()
    assert [r["userid"] for r in body["top"]] == ["zhangsan"]
    assert [(r["userid"], r["rank"]) for r in body["around"]] == [("zhangsan", 1), ("lisi", 2)]
    assert body["me"]["userid"] == "lisi"
    bad = await client.get("/api/v1/leaderboards/fortnight", headers=as_employee)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    assert (await client.get("/api/v1/dashboard", headers=as_employee)).status_code == 403
    as_head = {"Authorization": f"Bearer {head}"}
    figures = await client.get("/api/v1/dashboard?period=month", headers=as_head)
    assert figures.status_code == 200 and figures.json()["current"]["members"] == 3
    other = await client.get(f"/api/v1/dashboard?department={org.finance.id}", headers=as_head)
    assert other.status_code == 403


async def test_hr_defines_a_pilot_and_heads_cannot(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    await login(client, "wangwu")
    page = await client.get("/dashboard/pilots")
    assert page.status_code == 200 and "新建试点" not in page.text
    refused = await client.post(
        "/dashboard/pilots/new",
        data={"csrf_token": csrf_from(page.text), "name": "x", "departments": str(org.sales.id)},
    )
    assert refused.status_code == 403
    await login(client, "zhaoliu")
    page = await client.get("/dashboard/pilots")
    created = await client.post(
        "/dashboard/pilots/new",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "销售部试点",
            "departments": str(org.sales.id),
            "start_on": "2026-11-01",
            "days": "30",
            "goal_figure_0": "approval_users_share",
            "goal_kind_0": "target",
            "goal_value_0": "100",
            "goal_label_0": "报销审批线上化",
            "goal_figure_1": "turnaround_hours",
            "goal_kind_1": "improve",
            "goal_value_1": "30",
            "goal_label_1": "审批效率提升",
        },
    )
    assert created.status_code == 303
    pilot = await client.get(created.headers["location"])
    assert pilot.status_code == 200
    assert "最佳实践案例" in pilot.text and "报销审批线上化" in pilot.text
    assert len(await _audit(pg, "pilot.create")) == 1
    english = await client.get("/lang?to=en&next=/boards")
    assert english.status_code == 303
    board = await client.get("/boards")
    assert "Leaderboard" in board.text and "Hide my name" in board.text


async def test_a_key_of_another_period_shows_the_current_period(
    client: httpx.AsyncClient, pg: Store, org: Org
) -> None:
    # Switching the period keeps the month's key in the form: the person gets the
    # current week (quarter, year), never an error page.
    await _seed_points(pg, org)
    async with pg.db.session() as session:
        await award(session, org.colleague, 5, utcnow())
        head = await make_token(session, Role.head, "wangwu")
        await session.commit()
    as_head = {"Authorization": f"Bearer {head}"}
    await login(client, "wangwu")
    for period in ("week", "quarter", "year"):
        current = key_at(Period(period), utcnow(), SHANGHAI)
        page = await client.get(f"/boards?period={period}&key=2026-11")
        assert page.status_code == 200, (period, page.text)
        assert current in page.text
        board = await client.get(f"/api/v1/leaderboards/{period}?key=2026-11", headers=as_head)
        assert board.status_code == 200 and board.json()["key"] == current
    week = (await client.get("/api/v1/leaderboards/week?key=2026-11", headers=as_head)).json()
    assert [(r["userid"], r["points"]) for r in week["top"]] == [("lisi", 5)]
    # The dashboard too (a month's key on a week, a week's on a quarter).
    for period, key in (("week", "2026-11"), ("quarter", "2026-W48")):
        current = key_at(Period(period), utcnow(), SHANGHAI)
        page = await client.get(f"/dashboard?period={period}&key={key}")
        assert page.status_code == 200 and current in page.text
        figures = await client.get(f"/api/v1/dashboard?period={period}&key={key}", headers=as_head)
        assert figures.status_code == 200 and figures.json()["key"] == current


async def test_the_departments_board_shows_the_leading_departments_and_ones_own(
    client: httpx.AsyncClient, pg: Store, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large company has hundreds of departments: the page shows the leading ones and
    # the viewer's own, and the rest one tap away. Here the limits are scaled down.
    from points.boards import departments

    monkeypatch.setattr(departments, "MIN_DEPARTMENT_SIZE", 1)
    monkeypatch.setattr(departments, "SHOWN_DEPARTMENTS", 1)
    await _seed_points(pg, org)
    await login(client, "zhouba")  # in 财务部, second by points per head
    page = await client.get("/boards?period=month&key=2026-11&view=departments")
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert org.east.name in rows and org.finance.name in rows
    assert f"<td>{org.sales.name}" not in rows
    assert "共 3 个部门，显示其中 2 个" in page.text and "显示全部部门" in page.text
    assert "all=1" in page.text
    every = await client.get("/boards?period=month&key=2026-11&view=departments&all=1")
    rows = every.text.split("<tbody>")[1].split("</tbody>")[0]
    assert all(d.name in rows for d in (org.east, org.finance, org.sales))
    assert "显示全部部门" not in every.text
