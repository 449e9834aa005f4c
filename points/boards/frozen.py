"""Frozen boards: a week's or month's company board, published when the period closes.

A frozen board is the one people saw at the close; anything that changed later
(a late event, a reversal) is shown as an adjustment beside each result, never
by moving anyone's published rank.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import and_, func, insert, literal, or_
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.boards.models import FrozenBoard, FrozenRank
from points.boards.ranking import Ranked, competition_ranks, top_and_around
from points.boards.windows import (
    FROZEN_PERIODS,
    Scope,
    eligible_employee,
    in_scope_ids,
    off_board_ids,
)
from points.calendar import Period, bounds, is_closed, key_at, previous_key
from points.db import insert_for, utcnow
from points.errors import InvalidInput
from points.i18n import _
from points.ledger.models import PeriodScore
from points.org.models import Department, Employee


async def frozen_board(session: AsyncSession, period: Period, key: str) -> FrozenBoard | None:
    return (
        await session.exec(
            select(FrozenBoard).where(
                FrozenBoard.period == period.value, FrozenBoard.period_key == key
            )
        )
    ).first()


async def frozen_ranked(
    session: AsyncSession,
    board: FrozenBoard,
    scope: Scope,
    limit: int,
    around_id: int | None,
) -> tuple[Ranked, Ranked, int]:
    """The published ranking: company ranks as stored; a department's re-ranked from
    the published points of the people who were in it then. People who left or were
    excluded since are hidden without moving anyone else."""
    query = select(FrozenRank.employee_id, FrozenRank.points, FrozenRank.rank).where(
        FrozenRank.board_id == board.id
    )
    if scope.department is not None:
        in_scope = select(col(Department.id)).where(
            col(Department.path).startswith(scope.department.path)
        )
        query = query.where(col(FrozenRank.department_id).in_(in_scope))
    rows = (
        await session.exec(query.order_by(col(FrozenRank.rank), col(FrozenRank.employee_id)))
    ).all()
    if scope.department is not None:
        ranks = competition_ranks([p for _e, p, _r in rows])
        rows = [(e, p, r) for (e, p, _old), r in zip(rows, ranks, strict=True)]
    off = set((await session.exec(off_board_ids())).all())
    visible = [(int(e), int(p), int(r)) for e, p, r in rows if e not in off]
    top, around = top_and_around(visible, limit, around_id)
    return top, around, len(visible)


async def frozen_adjustments(
    session: AsyncSession, board: FrozenBoard, scope: Scope, employee_ids: set[int]
) -> tuple[dict[int, int], list[tuple[int, int]], int]:
    """Changes since the close: per shown person, newcomers, and how many people changed."""
    current = (
        (
            await session.exec(
                select(PeriodScore.employee_id, PeriodScore.points).where(
                    PeriodScore.period == board.period,
                    PeriodScore.period_key == board.period_key,
                    col(PeriodScore.employee_id).in_(sorted(employee_ids)),
                )
            )
        ).all()
        if employee_ids
        else []
    )
    published = (
        (
            await session.exec(
                select(FrozenRank.employee_id, FrozenRank.points).where(
                    FrozenRank.board_id == board.id,
                    col(FrozenRank.employee_id).in_(sorted(employee_ids)),
                )
            )
        ).all()
        if employee_ids
        else []
    )
    was = {int(e): int(p) for e, p in published}
    changes = {int(e): int(p) - was.get(int(e), 0) for e, p in current}
    frozen_ids = select(FrozenRank.employee_id).where(FrozenRank.board_id == board.id)
    late_query = (
        select(PeriodScore.employee_id, PeriodScore.points)
        .where(
            PeriodScore.period == board.period,
            PeriodScore.period_key == board.period_key,
            col(PeriodScore.points) > 0,
            col(PeriodScore.employee_id).not_in(frozen_ids),
            col(PeriodScore.employee_id).not_in(off_board_ids()),
        )
        .order_by(col(PeriodScore.points).desc(), col(PeriodScore.employee_id))
    )
    if scope.department is not None:
        late_query = late_query.where(col(PeriodScore.employee_id).in_(in_scope_ids(scope)))
    late = [(int(e), int(p)) for e, p in (await session.exec(late_query.limit(20))).all()]
    changed = (
        await session.exec(
            select(func.count())
            .select_from(FrozenRank)
            .join(
                PeriodScore,
                and_(
                    col(PeriodScore.employee_id) == col(FrozenRank.employee_id),
                    col(PeriodScore.period) == board.period,
                    col(PeriodScore.period_key) == board.period_key,
                ),
            )
            .where(
                FrozenRank.board_id == board.id, col(PeriodScore.points) != col(FrozenRank.points)
            )
        )
    ).one()
    return changes, late, int(changed) + len(late)


async def freeze(
    session: AsyncSession, period: Period, key: str, zone: tzinfo, now: datetime | None = None
) -> FrozenBoard | None:
    """Publish the company board of a closed week or month; None if frozen already.

    The unique (period, key) row decides, so two runs at once freeze it once.
    """
    if period not in FROZEN_PERIODS:
        raise InvalidInput(_("Only weeks and months are frozen."))
    now = now or utcnow()
    if not is_closed(period, key, now, zone):
        raise InvalidInput(_("This period has not closed yet."))
    closed_at = bounds(period, key, zone)[1]
    stmt = (
        insert_for(session, FrozenBoard)
        .values(period=period.value, period_key=key, closed_at=closed_at, frozen_at=now, people=0)
        .on_conflict_do_nothing(index_elements=["period", "period_key"])
        .returning(col(FrozenBoard.id))
    )
    board_id = (await session.exec(stmt)).scalar_one_or_none()
    if board_id is None:
        return None
    # One set-based statement: the database ranks and copies the board, so a
    # 100,000-person board never passes through this process (seconds, not minutes).
    ranked = (
        select_columns(
            literal(board_id),
            col(PeriodScore.employee_id),
            col(PeriodScore.points),
            col(Employee.department_id),
            func.rank().over(order_by=col(PeriodScore.points).desc()),
        )
        .join(Employee, col(Employee.id) == col(PeriodScore.employee_id))
        .where(
            col(PeriodScore.period) == period.value,
            col(PeriodScore.period_key) == key,
            col(PeriodScore.points) > 0,
            *eligible_employee(),
        )
    )
    copied = await session.exec(
        insert(FrozenRank).from_select(
            ["board_id", "employee_id", "points", "department_id", "rank"], ranked
        )
    )
    people = int(copied.rowcount or 0)
    board = await session.get(FrozenBoard, board_id)
    assert board is not None
    board.people = people
    session.add(board)
    await record(
        session,
        actor="system",
        action="board.freeze",
        target=f"{period.value}:{key}",
        details={"people": people},
    )
    return board


async def freeze_closed(
    session: AsyncSession, zone: tzinfo, now: datetime | None = None, lookback: int = 2
) -> list[str]:
    """Freeze the last ``lookback`` closed weeks and months not frozen yet; their keys."""
    now = now or utcnow()
    frozen: list[str] = []
    for period in FROZEN_PERIODS:
        key = key_at(period, now, zone)
        for _step in range(lookback):
            key = previous_key(period, key)
            if await frozen_board(session, period, key) is None:
                board = await freeze(session, period, key, zone, now)
                if board is not None:
                    frozen.append(f"{period.value}:{key}")
    return frozen


async def has_unfrozen_closed(
    session: AsyncSession, zone: tzinfo, now: datetime | None = None
) -> bool:
    """True when the week or month that just closed has not been frozen yet."""
    now = now or utcnow()
    closed = [(p.value, previous_key(p, key_at(p, now, zone))) for p in FROZEN_PERIODS]
    # One statement for both (every board view asks).
    frozen = (
        await session.exec(
            select(func.count())
            .select_from(FrozenBoard)
            .where(
                or_(
                    *(
                        and_(
                            col(FrozenBoard.period) == period,
                            col(FrozenBoard.period_key) == key,
                        )
                        for period, key in closed
                    )
                )
            )
        )
    ).one()
    return int(frozen) < len(closed)
