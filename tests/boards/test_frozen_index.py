"""Frozen company boards from the in-process index: the same answers as the SQL path,
with late changes caught up from the ledger after the index was built."""

from __future__ import annotations

from datetime import datetime

from points.boards import frozen as board_frozen
from points.boards import frozen_index
from points.boards import leaderboard as board_leaderboard
from points.boards.leaderboard import Board
from points.boards.windows import Scope, Window
from points.ledger.models import Period
from points.org.models import Employee, EmployeeStatus
from tests.support.boards import SHANGHAI, award, set_roll
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

WEEK = Window(Period.week, "2026-W40")  # 28 September – 4 October 2026
AFTER_CLOSE = datetime.fromisoformat("2026-10-05T01:00:00+08:00")


def _shape(board: Board) -> tuple[object, ...]:
    return (
        [(r.employee_id, r.rank, r.points, r.adjustment) for r in board.top],
        [(r.employee_id, r.rank, r.points, r.adjustment) for r in board.around],
        [(r.employee_id, r.points) for r in board.late],
        board.adjusted_people,
        board.ranked,
    )


async def _both(store: Store, viewer: int, limit: int) -> tuple[Board, Board]:
    async with store.db.session() as session:
        indexed = await board_leaderboard.leaderboard(
            session, window=WEEK, scope=Scope(), viewer_id=viewer, limit=limit, zone=SHANGHAI
        )
        in_sql = await board_leaderboard.leaderboard(
            session, window=WEEK, scope=Scope(), viewer_id=viewer, limit=limit
        )
    return indexed, in_sql


async def test_frozen_board_index_follows_late_changes(pg: Store) -> None:
    frozen_index.forget()
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        people: list[Employee] = []
        for n in range(8):
            people.append(await make_employee(session, sales, userid=f"p{n}", name=f"员工{n}"))
        for n, person in enumerate(people[:7]):
            await award(session, person, 10 * (7 - n), "2026-09-30T10:00:00")
        await session.commit()
        await board_frozen.freeze(session, Period.week, WEEK.key, SHANGHAI, now=AFTER_CLOSE)
        await session.commit()
    ids = [p.id for p in people]
    viewer = ids[5]
    indexed, in_sql = await _both(pg, viewer, limit=2)
    assert len(frozen_index._INDEXES) == 1  # the company view went through the index
    assert _shape(indexed) == _shape(in_sql)
    assert [(r.employee_id, r.rank) for r in indexed.top] == [(ids[0], 1), (ids[1], 2)]
    assert [r.employee_id for r in indexed.around] == ids[3:7]
    assert indexed.late == [] and indexed.adjusted_people == 0

    # After the index was built: a late award, a reversal, a newcomer, and a person
    # who leaves (hidden without moving anyone's published rank).
    async with pg.db.session() as session:
        await award(session, people[6], 25, "2026-10-04T22:00:00")
        await award(session, people[0], -4, "2026-09-30T10:00:00")
        await award(session, people[7], 15, "2026-10-03T09:00:00")
        await award(session, people[1], 99, "2026-10-06T09:00:00")  # the next week: no change
        leaver = await session.get(Employee, ids[4])
        assert leaver is not None
        await set_roll(session, leaver, status=EmployeeStatus.left)
        await session.commit()
    indexed, in_sql = await _both(pg, viewer, limit=2)
    assert _shape(indexed) == _shape(in_sql)
    assert [(r.employee_id, r.rank, r.adjustment) for r in indexed.top] == [
        (ids[0], 1, -4),
        (ids[1], 2, 0),
    ]
    assert [(r.employee_id, r.rank, r.adjustment) for r in indexed.around] == [
        (ids[2], 3, 0),
        (ids[3], 4, 0),
        (ids[5], 6, 0),
        (ids[6], 7, 25),
    ]
    assert [(r.employee_id, r.points) for r in indexed.late] == [(ids[7], 15)]
    assert indexed.adjusted_people == 3
    assert indexed.ranked == 6
