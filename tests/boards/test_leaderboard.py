from __future__ import annotations

from datetime import date, datetime, tzinfo

import pytest

from points.boards import leaderboard as board_leaderboard
from points.boards import windows as board_windows
from points.boards.windows import Scope, Window
from points.ledger.models import Period
from points.org.models import EmployeeStatus
from tests.support.boards import SHANGHAI, award, set_roll
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

MONTH = Window(Period.month, "2026-11")


@pytest.fixture(params=["sql", "rank-index"])
def zone(request: pytest.FixtureRequest) -> tzinfo | None:
    """Company boards are answered in SQL, or (given the zone) from the rank index."""
    return SHANGHAI if request.param == "rank-index" else None


async def _company(pg: Store, points: list[int]) -> list[int]:
    """People p0, p1… with the given November points; their ids."""
    ids = []
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        for index, value in enumerate(points):
            person = await make_employee(session, sales, userid=f"p{index}", name=f"员工{index}")
            if value:
                await award(session, person, value, "2026-11-10T10:00:00")
            assert person.id is not None
            ids.append(person.id)
        await session.commit()
    return ids


async def test_equal_points_share_a_rank(pg: Store, zone: tzinfo | None) -> None:
    ids = await _company(pg, [50, 40, 40, 30])
    async with pg.db.session() as session:
        board = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[3]
        )
    assert [(r.name, r.rank) for r in board.top] == [
        ("员工0", 1),
        ("员工1", 2),
        ("员工2", 2),
        ("员工3", 4),
    ]
    assert board.me is not None and board.me.rank == 4 and board.around == []


async def test_neighbours_at_the_edges(pg: Store, zone: tzinfo | None) -> None:
    ids = await _company(pg, [100 - i for i in range(10)])
    async with pg.db.session() as session:
        first = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[0], limit=1
        )
        last = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[9], limit=3
        )
        middle = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[5], limit=1
        )
    # Rank 1 is in the top: no separate neighbourhood.
    assert first.me is not None and first.me.rank == 1 and first.around == []
    # The last has two above and nobody below.
    assert [r.rank for r in last.around] == [8, 9, 10]
    assert last.around[-1].is_viewer and last.ranked == 10
    assert [r.rank for r in middle.around] == [4, 5, 6, 7, 8]


async def test_ties_in_the_neighbourhood_keep_the_shared_rank(
    pg: Store, zone: tzinfo | None
) -> None:
    ids = await _company(pg, [90, 80, 70, 70, 70, 60])
    async with pg.db.session() as session:
        board = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[2], limit=1
        )
        last_tie = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[4], limit=1
        )
    assert [(r.points, r.rank) for r in board.around] == [
        (90, 1),
        (80, 2),
        (70, 3),
        (70, 3),
        (70, 3),
    ]
    assert [(r.points, r.rank) for r in last_tie.around] == [(70, 3), (70, 3), (70, 3), (60, 6)]


async def test_opted_out_people_are_anonymous_to_others_but_see_themselves(
    pg: Store, zone: tzinfo | None
) -> None:
    ids = await _company(pg, [30, 20, 10])
    async with pg.db.session() as session:
        from points.org.models import Employee

        hidden = await session.get(Employee, ids[1])
        assert hidden is not None
        await board_leaderboard.set_board_opt_out(session, hidden, True)
        await session.commit()
        others = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[0]
        )
        own = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[1]
        )
        around = await board_leaderboard.leaderboard(
            session,
            window=MONTH,
            scope=Scope(),
            zone=zone,
            viewer_id=ids[0],
            around_id=ids[1],
            limit=1,
        )
    row = others.top[1]
    assert row.anonymous and row.name == "匿名同事" and row.userid is None and row.rank == 2
    assert own.me is not None and own.me.name == "员工1" and own.me.rank == 2
    assert around.me is None and around.around == []


async def test_excluded_people_and_leavers_never_appear_nor_take_a_rank(
    pg: Store, zone: tzinfo | None
) -> None:
    ids = await _company(pg, [50, 40, 30, 20])
    async with pg.db.session() as session:
        from points.org.models import Employee

        bot = await session.get(Employee, ids[0])
        leaver = await session.get(Employee, ids[2])
        assert bot is not None and leaver is not None
        await set_roll(session, bot, excluded=True)
        await set_roll(session, leaver, status=EmployeeStatus.left)
        await session.commit()
        board = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(), zone=zone, viewer_id=ids[3], limit=1
        )
    assert [(r.name, r.rank) for r in board.top] == [("员工1", 1)]
    assert board.me is not None and board.me.rank == 2 and board.ranked == 2
    assert all(r.employee_id not in (ids[0], ids[2]) for r in board.top + board.around)


async def test_a_department_board_includes_sub_departments_only(
    pg: Store, zone: tzinfo | None
) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        finance = await make_department(session, "财务部")
        a = await make_employee(session, east, userid="a", name="甲")
        b = await make_employee(session, sales, userid="b", name="乙")
        c = await make_employee(session, finance, userid="c", name="丙")
        for person, value in ((a, 5), (b, 3), (c, 9)):
            await award(session, person, value, "2026-11-03T09:00:00")
        await session.commit()
        board = await board_leaderboard.leaderboard(
            session, window=MONTH, scope=Scope(sales), viewer_id=c.id
        )
    assert [(r.name, r.rank) for r in board.top] == [("甲", 1), ("乙", 2)]
    assert board.me is None


async def test_campaign_sums_the_days_of_its_window(pg: Store, zone: tzinfo | None) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        a = await make_employee(session, sales, userid="a", name="甲")
        b = await make_employee(session, sales, userid="b", name="乙")
        await award(session, a, 10, "2026-11-30T23:59:00")  # outside (the day before)
        await award(session, a, 4, "2026-12-01T00:00:00")
        await award(session, b, 6, "2026-12-05T12:00:00")
        await award(session, b, 50, "2026-12-08T00:00:00")  # outside (the day after)
        await session.commit()
        window = board_windows.resolve_window(
            "campaign", None, SHANGHAI, start=date(2026, 12, 1), end=date(2026, 12, 7)
        )
        board = await board_leaderboard.leaderboard(
            session, window=window, scope=Scope(), zone=zone, viewer_id=a.id
        )
    assert [(r.name, r.points) for r in board.top] == [("乙", 6), ("甲", 4)]


async def test_default_window_is_the_current_period_in_shanghai(
    pg: Store, zone: tzinfo | None
) -> None:
    # 2026-11-29 16:30 UTC is Monday 2026-11-30 00:30 in Shanghai: ISO week 49.
    now = datetime.fromisoformat("2026-11-29T16:30:00+00:00")
    assert board_windows.resolve_window("week", None, SHANGHAI, now=now).key == "2026-W49"
    assert board_windows.resolve_window("month", None, SHANGHAI, now=now).key == "2026-11"
    assert board_windows.resolve_window("quarter", None, SHANGHAI, now=now).key == "2026-Q4"


async def test_the_rank_index_follows_new_points_and_exclusions(pg: Store) -> None:
    ids = await _company(pg, [30, 20, 10])
    from points.org.models import Employee

    async def board() -> list[tuple[str, int, int]]:
        async with pg.db.session() as session:
            found = await board_leaderboard.leaderboard(
                session, window=MONTH, scope=Scope(), viewer_id=ids[2], zone=SHANGHAI
            )
        return [(r.name, r.points, r.rank) for r in found.top]

    assert await board() == [("员工0", 30, 1), ("员工1", 20, 2), ("员工2", 10, 3)]
    async with pg.db.session() as session:
        last = await session.get(Employee, ids[2])
        assert last is not None
        await award(session, last, 25, "2026-11-20T10:00:00")
        await award(session, last, 99, "2026-10-20T10:00:00")  # another month
        await session.commit()
    assert await board() == [("员工2", 35, 1), ("员工0", 30, 2), ("员工1", 20, 3)]
    async with pg.db.session() as session:
        first = await session.get(Employee, ids[0])
        assert first is not None
        await set_roll(session, first, excluded=True)
        await session.commit()
    assert await board() == [("员工2", 35, 1), ("员工1", 20, 2)]


async def test_the_rank_index_reads_again_only_what_it_has_not_applied(pg: Store) -> None:
    """Transactions that commit out of id order: what the index has not applied below
    its newest id (a gap when it looked) is read again on the next view, once."""
    from points.boards import ranking

    ranking.forget()
    ids = await _company(pg, [30, 20, 10])

    async def board() -> list[tuple[str, int, int]]:
        async with pg.db.session() as session:
            found = await board_leaderboard.leaderboard(
                session, window=MONTH, scope=Scope(), viewer_id=ids[2], zone=SHANGHAI
            )
        return [(r.name, r.points, r.rank) for r in found.top]

    assert await board() == [("员工0", 30, 1), ("员工1", 20, 2), ("员工2", 10, 3)]
    index = next(
        i for i in ranking._INDEXES.values() if (i.period, i.key) == (Period.month, "2026-11")
    )
    # As if the first award (the lowest id) had not committed when the index looked.
    index.applied.discard(min(index.applied))
    index.set_points(ids[0], 0)
    assert await board() == [("员工0", 30, 1), ("员工1", 20, 2), ("员工2", 10, 3)]
    assert await board() == [("员工0", 30, 1), ("员工1", 20, 2), ("员工2", 10, 3)]
