from __future__ import annotations

from datetime import datetime

from sqlmodel import func, select

from points.boards import departments as board_departments
from points.boards import frozen as board_frozen
from points.boards import leaderboard as board_leaderboard
from points.boards.models import FrozenBoard, FrozenRank
from points.boards.windows import Scope, Window
from points.events.schemas import EventIn
from points.ledger.models import Period, PeriodScore
from points.org.models import Employee
from tests.support.boards import SHANGHAI, award
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

WEEK = Window(Period.week, "2026-W48")
# Monday 2026-11-30 01:00 in Shanghai: week 48 has just closed.
AFTER_CLOSE = datetime.fromisoformat("2026-11-30T01:00:00+08:00")


async def test_sunday_2359_and_monday_0000_land_in_different_iso_weeks(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        zhang = await make_employee(session, sales, userid="zhangsan", name="张三")
        await session.commit()

    def approval(sp_no: str, when: str) -> EventIn:
        return event(
            f"approval:{sp_no}:submitted",
            "approval.submitted",
            "zhangsan",
            when,
            template="报销",
            sp_no=sp_no,
            on_time=True,
        )

    sunday = approval("1", "2026-11-29T23:59:00")
    monday = approval("2", "2026-11-30T00:00:00")
    assert await send(pg, [sunday, monday]) == ["created", "created"]
    async with pg.db.session() as session:
        w48 = await board_leaderboard.leaderboard(
            session, window=Window(Period.week, "2026-W48"), scope=Scope(), viewer_id=zhang.id
        )
        w49 = await board_leaderboard.leaderboard(
            session, window=Window(Period.week, "2026-W49"), scope=Scope(), viewer_id=zhang.id
        )
        nov = await board_leaderboard.leaderboard(
            session, window=Window(Period.month, "2026-11"), scope=Scope(), viewer_id=zhang.id
        )
    assert [r.points for r in w48.top] == [5]
    assert [r.points for r in w49.top] == [5]
    assert [r.points for r in nov.top] == [10]  # Monday 30 November is still November


async def test_a_closed_week_is_frozen_once_and_late_points_show_as_adjustments(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        a = await make_employee(session, sales, userid="a", name="甲")
        b = await make_employee(session, sales, userid="b", name="乙")
        c = await make_employee(session, sales, userid="c", name="丙")
        await award(session, a, 10, "2026-11-27T10:00:00")
        await award(session, b, 8, "2026-11-28T10:00:00")
        await session.commit()
        frozen = await board_frozen.freeze_closed(session, SHANGHAI, now=AFTER_CLOSE)
        await session.commit()
        assert "week:2026-W48" in frozen
        # Running the job again freezes nothing more.
        assert await board_frozen.freeze_closed(session, SHANGHAI, now=AFTER_CLOSE) == []
        await session.commit()
        assert (await session.exec(select(func.count()).select_from(FrozenBoard))).one() == len(
            frozen
        )
        # After the close: b gets a late event that would overtake a, a loses 4 to a
        # reversal, and c scores for the first time.
        await award(session, b, 5, "2026-11-29T22:00:00")
        await award(session, a, -4, "2026-11-27T10:00:00")
        await award(session, c, 20, "2026-11-29T23:00:00")
        await session.commit()
        board = await board_leaderboard.leaderboard(
            session, window=WEEK, scope=Scope(), viewer_id=b.id
        )
    assert board.frozen is not None
    # The published order stands; the changes sit next to it.
    assert [(r.name, r.rank, r.points, r.adjustment) for r in board.top] == [
        ("甲", 1, 10, -4),
        ("乙", 2, 8, 5),
    ]
    assert [(r.name, r.points) for r in board.late] == [("丙", 20)]
    assert board.adjusted_people == 3


async def test_an_open_period_cannot_be_frozen(pg: Store) -> None:
    import pytest

    from points.errors import InvalidInput

    async with pg.db.session() as session:
        with pytest.raises(InvalidInput):
            await board_frozen.freeze(session, Period.week, "2026-W49", SHANGHAI, now=AFTER_CLOSE)


async def test_small_departments_fold_into_their_parent(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        tiny = await make_department(session, "小组", parent=sales)
        finance = await make_department(session, "财务部")
        people: dict[str, list[Employee]] = {}
        for department, count in ((sales, 3), (east, 6), (tiny, 2), (finance, 5)):
            people[department.name] = [
                await make_employee(session, department, name=f"{department.name}{i}")
                for i in range(count)
            ]
        # 华东区: 6 people, 3 earn 10 each → 5.0 per head, 50 %.
        for person in people["华东区"][:3]:
            await award(session, person, 10, "2026-11-05T10:00:00")
        # 销售部 (3) + 小组 (2) fold together: 5 people, one earns 40 → 8.0 per head, 20 %.
        await award(session, people["小组"][0], 40, "2026-11-05T10:00:00")
        # 财务部: 5 people, all earn 2 → 2.0 per head, 100 %.
        for person in people["财务部"]:
            await award(session, person, 2, "2026-11-05T10:00:00")
        await session.commit()
        board = await board_departments.department_board(
            session, window=Window(Period.month, "2026-11"), scope=Scope(), zone=SHANGHAI
        )
        by_part = await board_departments.department_board(
            session,
            window=Window(Period.month, "2026-11"),
            scope=Scope(),
            zone=SHANGHAI,
            order="participation",
        )
    rows = {r.name: r for r in board.rows}
    assert set(rows) == {"销售部", "华东区", "财务部"}
    assert rows["销售部"].members == 5 and rows["销售部"].folded == ["小组"]
    assert [(r.name, r.per_head, r.rank_per_head) for r in board.rows] == [
        ("销售部", 8.0, 1),
        ("华东区", 5.0, 2),
        ("财务部", 2.0, 3),
    ]
    assert [(r.name, r.participation) for r in by_part.rows] == [
        ("财务部", 100.0),
        ("华东区", 50.0),
        ("销售部", 20.0),
    ]


async def test_a_department_too_small_even_after_folding_is_hidden(pg: Store) -> None:
    async with pg.db.session() as session:
        lonely = await make_department(session, "法务部")
        for i in range(3):
            await make_employee(session, lonely, name=f"法务{i}")
        await session.commit()
        board = await board_departments.department_board(
            session, window=Window(Period.month, "2026-11"), scope=Scope(), zone=SHANGHAI
        )
    assert board.rows == [] and board.hidden_small == 3


async def test_freezing_copies_the_company_ranking(pg: Store) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        for i, value in enumerate((5, 5, 3)):
            person = await make_employee(session, sales, name=f"人{i}")
            await award(session, person, value, "2026-11-26T10:00:00")
        await session.commit()
        board = await board_frozen.freeze(
            session, Period.week, "2026-W48", SHANGHAI, now=AFTER_CLOSE
        )
        await session.commit()
        assert board is not None and board.people == 3
        ranks = (await session.exec(select(FrozenRank.rank).order_by(FrozenRank.rank))).all()
        scores = (await session.exec(select(func.count()).select_from(PeriodScore))).one()
    assert list(ranks) == [1, 1, 3] and scores > 0
