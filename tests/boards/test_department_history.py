"""Points stay with the department where they were earned, on boards and dashboards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from points.boards.departments import DepartmentBoard, department_board
from points.boards.windows import Scope, Window
from points.calendar import Period
from points.dashboards.dashboard import dashboard
from points.org import service as org
from points.org.models import Department, EmployeeStatus
from tests.support.boards import SHANGHAI, award, set_roll
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

NOW = datetime.fromisoformat("2026-12-10T12:00:00+08:00")


@dataclass
class Company:
    sales: Department
    tech: Department


async def _move_mid_month(store: Store) -> Company:
    """周明 earns 100 in 销售部, moves to 技术部 on 15 November, then earns 30 there.

    销售部: 周明 and five others (one earns 10). 技术部: five others (one earns 20) and
    a leaver who earned 5 and left on 10 November.
    """
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        tech = await make_department(session, "技术部")
        mover = await make_employee(session, sales, userid="zhouming", name="周明")
        stayers = [await make_employee(session, sales, name=f"销售{i}") for i in range(5)]
        engineers = [await make_employee(session, tech, name=f"技术{i}") for i in range(5)]
        leaver = await make_employee(session, tech, name="离职者")
        await award(session, mover, 100, "2026-11-05T10:00:00")
        await award(session, stayers[0], 10, "2026-11-06T10:00:00")
        await award(session, engineers[0], 20, "2026-11-07T10:00:00")
        await award(session, leaver, 5, "2026-11-03T10:00:00")
        await set_roll(session, leaver, status=EmployeeStatus.left, left_on=date(2026, 11, 10))
        await org.upsert_employee(
            session,
            userid="zhouming",
            name="周明",
            department_id=tech.id,
            moved_at=datetime.fromisoformat("2026-11-15T09:00:00+08:00"),
        )
        await award(session, mover, 30, "2026-11-20T10:00:00")
        await session.commit()
        return Company(sales, tech)


async def _board(store: Store, period: Period, key: str) -> dict[str, tuple[int, int, int]]:
    """Department → (members, points, participants)."""
    async with store.db.session() as session:
        board: DepartmentBoard = await department_board(
            session, window=Window(period, key), scope=Scope(), zone=SHANGHAI
        )
    return {r.name: (r.members, r.points, r.participants) for r in board.rows}


async def _check(store: Store, company: Company) -> None:
    # November: the 100 stays with 销售部; 周明 is a member of both departments,
    # and the leaver of 技术部 (they were there until the 10th).
    assert await _board(store, Period.month, "2026-11") == {
        "销售部": (6, 110, 2),
        "技术部": (7, 55, 3),
    }
    assert await _board(store, Period.all, "all") == {
        "销售部": (6, 110, 2),
        "技术部": (7, 55, 3),
    }
    # The week of the move (W46: 9–15 November, moved on the 15th) and the week after.
    assert await _board(store, Period.week, "2026-W47") == {
        "销售部": (5, 0, 0),
        "技术部": (6, 30, 1),
    }
    # October: before the move, 周明 was 销售部's only; December: 技术部's only.
    assert await _board(store, Period.month, "2026-10") == {
        "销售部": (6, 0, 0),
        "技术部": (6, 0, 0),
    }
    assert await _board(store, Period.month, "2026-12") == {
        "销售部": (5, 0, 0),
        "技术部": (6, 0, 0),
    }
    async with store.db.session() as session:
        views = {
            name: await dashboard(
                session,
                department=department,
                period=Period.month,
                key="2026-11",
                zone=SHANGHAI,
                show_inactive=False,
                now=NOW,
            )
            for name, department in (("销售部", company.sales), ("技术部", company.tech))
        }
        company_view = await dashboard(
            session,
            department=None,
            period=Period.month,
            key="2026-11",
            zone=SHANGHAI,
            show_inactive=False,
            now=NOW,
        )
    assert views["销售部"].points == 110 and views["技术部"].points == 55
    assert [(c.name, c.points) for c in views["销售部"].contributors] == [
        ("周明", 100),
        ("销售0", 10),
    ]
    assert [(c.name, c.points) for c in views["技术部"].contributors] == [
        ("周明", 30),
        ("技术0", 20),
    ]
    assert company_view.points == 165
    assert [(c.name, c.points) for c in company_view.contributors][:1] == [("周明", 130)]


async def test_a_move_mid_month_keeps_points_with_the_old_department(pg: Store) -> None:
    await _check(pg, await _move_mid_month(pg))


async def test_a_move_mid_month_on_the_embedded_sqlite_default(lite: Store) -> None:
    await _check(lite, await _move_mid_month(lite))


async def test_moving_back_and_forth_counts_each_stint(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        tech = await make_department(session, "技术部")
        for department in (sales, tech):
            for i in range(5):
                await make_employee(session, department, name=f"{department.name}{i}")
        person = await make_employee(session, sales, userid="p", name="来回")
        await award(session, person, 7, "2026-11-02T10:00:00")
        await org.upsert_employee(
            session,
            userid="p",
            name="来回",
            department_id=tech.id,
            moved_at=datetime.fromisoformat("2026-11-10T00:00:00+08:00"),
        )
        await award(session, person, 3, "2026-11-12T10:00:00")
        await org.upsert_employee(
            session,
            userid="p",
            name="来回",
            department_id=sales.id,
            moved_at=datetime.fromisoformat("2026-11-20T00:00:00+08:00"),
        )
        await award(session, person, 1, "2026-11-25T10:00:00")
        await session.commit()
    assert await _board(pg, Period.month, "2026-11") == {
        "销售部": (6, 8, 1),
        "技术部": (6, 3, 1),
    }
    # Days within the 技术部 stint (10–20 November): a member of 技术部 only.
    days = (date(2026, 11, 12), date(2026, 11, 18))
    async with pg.db.session() as session:
        board = await department_board(
            session, window=Window(None, "campaign", days), scope=Scope(), zone=SHANGHAI
        )
    assert {r.name: (r.members, r.points, r.participants) for r in board.rows} == {
        "销售部": (5, 0, 0),
        "技术部": (6, 3, 1),
    }
