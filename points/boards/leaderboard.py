"""Leaderboards: who earned most in a period, read from period scores (never the entries).

Individual boards show the top N and the viewer with two neighbours either side;
equal points share a rank (1, 2, 2, 4); excluded people and leavers never appear;
people who opted out are shown as 匿名同事 to everyone but themselves. Weeks and
months are frozen when they close (:mod:`points.boards.frozen`): their board is the
one published then, and anything that changed later is shown as an adjustment
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, union_all
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.boards.frozen import frozen_adjustments, frozen_board, frozen_ranked
from points.boards.frozen_index import frozen_index
from points.boards.models import FrozenBoard
from points.boards.ranking import (
    NEIGHBOURS,
    Ranked,
    company_ranking,
    competition_ranks,
    rank_in_memory,
)
from points.boards.windows import FROZEN_PERIODS, Scope, Window, in_scope_ids, off_board_ids
from points.calendar import Period, is_closed
from points.db import among, is_postgres, utcnow
from points.errors import Forbidden, InvalidInput
from points.i18n import N_, _
from points.ledger.models import PeriodScore
from points.org.models import Department, Employee, EmployeeStatus

MAX_TOP = 200
# Shown instead of the name of someone who opted out (zh_CN: 匿名同事).
ANONYMOUS = N_("Anonymous colleague")


@dataclass
class BoardRow:
    rank: int
    employee_id: int
    points: int
    name: str
    userid: str | None  # None when anonymous
    department: str
    is_viewer: bool = False
    anonymous: bool = False
    # Frozen boards: points that arrived (or were reversed) after the period closed.
    adjustment: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "points": self.points,
            "name": self.name,
            "userid": self.userid,
            "department": self.department,
            "is_viewer": self.is_viewer,
            "anonymous": self.anonymous,
            "adjustment": self.adjustment,
        }


@dataclass
class Board:
    window: Window
    scope: Scope
    top: list[BoardRow]
    # The viewer (or ``around`` person) with two neighbours either side, when not in the top.
    around: list[BoardRow]
    me: BoardRow | None
    ranked: int  # how many people are on the board
    frozen: FrozenBoard | None = None
    # Frozen boards: people who first scored after the close, and how many changed.
    late: list[BoardRow] = field(default_factory=list)
    adjusted_people: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.window.period.value if self.window.period else "campaign",
            "key": self.window.key,
            "scope": self.scope.key,
            "ranked": self.ranked,
            "top": [r.to_dict() for r in self.top],
            "around": [r.to_dict() for r in self.around],
            "me": self.me.to_dict() if self.me else None,
            "frozen": (
                {
                    "frozen_at": self.frozen.frozen_at.isoformat(),
                    "adjusted_people": self.adjusted_people,
                    "late": [r.to_dict() for r in self.late],
                }
                if self.frozen
                else None
            ),
        }


# ---------------------------------------------------------------------------- open boards, in SQL


def score_filter(window: Window, scope: Scope) -> list[ColumnElement[bool]]:
    assert window.period is not None
    conditions: list[ColumnElement[bool]] = [
        col(PeriodScore.period) == window.period.value,
        col(PeriodScore.period_key) == window.key,
    ]
    if scope.department is not None:
        conditions.append(col(PeriodScore.employee_id).in_(in_scope_ids(scope)))
    return conditions


async def live_ranked(
    session: AsyncSession, window: Window, scope: Scope, limit: int, around_id: int | None
) -> tuple[Ranked, Ranked, int]:
    """(top, around, ranked) as (employee id, points, rank) from PeriodScore, all in SQL.

    Ranks are "1 + how many scored more"; counting uses the board index
    (period, period_key, points) and subtracts the few off-board people separately,
    so the count never has to visit the employee table row by row. Four queries:
    the top, the neighbourhood, and the two counts.
    """
    base = score_filter(window, scope)
    ep, pp = col(PeriodScore.employee_id), col(PeriodScore.points)
    eligible = [*base, pp > 0, ep.not_in(off_board_ids())]
    top_rows = (
        await session.exec(select(ep, pp).where(*eligible).order_by(pp.desc(), ep).limit(limit))
    ).all()
    top_points = [p for _e, p in top_rows]
    top = [(e, p, r) for (e, p), r in zip(top_rows, competition_ranks(top_points), strict=True)]

    rows: list[tuple[int, int]] = []
    if around_id is not None and around_id not in {e for e, _p, _r in top}:
        mine = select(pp).where(*eligible, ep == around_id).scalar_subquery()
        above = (
            select(ep, pp)
            .where(*eligible, pp >= mine, ~and_(pp == mine, ep >= around_id))
            .order_by(pp, ep.desc())
            .limit(NEIGHBOURS)
            .subquery()
        )
        below = (
            select(ep, pp)
            .where(*eligible, pp <= mine, ~and_(pp == mine, ep <= around_id))
            .order_by(pp.desc(), ep)
            .limit(NEIGHBOURS)
            .subquery()
        )
        me = select(ep, pp).where(*eligible, ep == around_id).subquery()
        neighbourhood = union_all(
            select(above.c.employee_id, above.c.points),
            select(me.c.employee_id, me.c.points),
            select(below.c.employee_id, below.c.points),
        )
        both = neighbourhood.subquery()
        found = (await session.exec(select(both.c.employee_id, both.c.points))).all()
        if any(e == around_id for e, _p in found):
            rows = sorted(((int(e), int(p)) for e, p in found), key=lambda r: (-r[1], r[0]))
    values = sorted({p for _e, p in rows})
    counts = await count_above(session, base, [0, *values])
    ranks = {v: c + 1 for v, c in zip(values, counts[1:], strict=True)}
    around = [(e, p, ranks[p]) for e, p in rows]
    return top, around, counts[0]


async def count_above(
    session: AsyncSession, base: list[ColumnElement[bool]], values: list[int]
) -> list[int]:
    """How many on-board people scored more than each value (one pass over the index)."""
    lowest = min(values)
    pp = col(PeriodScore.points)
    # A leading count keeps the answer a row even for one value (a lone column is a scalar).
    columns = [func.count(), *(func.sum(case((pp > v, 1), else_=0)) for v in values)]
    where = [*base, pp > lowest]
    everyone = (await session.exec(select(*columns).where(*where))).one()
    off_board = (
        await session.exec(
            select(*columns).where(*where, col(PeriodScore.employee_id).in_(off_board_ids()))
        )
    ).one()
    return [int(a or 0) - int(b or 0) for a, b in zip(everyone[1:], off_board[1:], strict=True)]


async def campaign_scores(
    session: AsyncSession, window: Window, scope: Scope
) -> list[tuple[int, int]]:
    """Sum of the day scores in the campaign's days, per on-board person in scope."""
    assert window.days is not None
    start, end = window.days
    query = (
        select(PeriodScore.employee_id, func.sum(PeriodScore.points))
        .where(
            col(PeriodScore.period) == Period.day.value,
            col(PeriodScore.period_key) >= start.isoformat(),
            col(PeriodScore.period_key) <= end.isoformat(),
            col(PeriodScore.employee_id).not_in(off_board_ids()),
        )
        .group_by(col(PeriodScore.employee_id))
    )
    if scope.department is not None:
        query = query.where(col(PeriodScore.employee_id).in_(in_scope_ids(scope)))
    return [(int(e), int(p or 0)) for e, p in (await session.exec(query)).all()]


# ---------------------------------------------------------------------------- the board


async def leaderboard(
    session: AsyncSession,
    *,
    window: Window,
    scope: Scope,
    viewer_id: int | None,
    around_id: int | None = None,
    limit: int = 50,
    zone: tzinfo | None = None,
    names: bool = True,
) -> Board:
    """The board for a window and scope, as ``viewer_id`` may see it.

    ``names=False`` leaves the rows unnamed (a caller that only wants figures, such as
    the viewer's points last period, saves reading the people).

    ``around_id`` (default the viewer) is whose neighbourhood to show under the top N.
    With the company's ``zone``, open company boards on PostgreSQL are answered from
    the in-process rank index (:mod:`points.boards.ranking`); otherwise in SQL.
    """
    if not 1 <= limit <= MAX_TOP:
        raise InvalidInput(_("limit must be between 1 and 200"))
    around_id = around_id if around_id is not None else viewer_id
    frozen = None
    # An open period cannot be frozen yet: skip the look-up (it is on the hot path).
    open_period = (
        zone is not None
        and window.period is not None
        and not is_closed(window.period, window.key, utcnow(), zone)
    )
    if window.period in FROZEN_PERIODS and not open_period:
        assert window.period is not None
        frozen = await frozen_board(session, window.period, window.key)
    # A company view of a frozen board on PostgreSQL reads this process's index of it.
    indexed_frozen = (
        await frozen_index(session, frozen, zone)
        if frozen is not None and scope.department is None and zone is not None
        else None
    )
    if indexed_frozen is not None:
        top, around, ranked = indexed_frozen.ranked(limit, around_id)
    elif frozen is not None:
        top, around, ranked = await frozen_ranked(session, frozen, scope, limit, around_id)
    elif window.is_campaign:
        scores = await campaign_scores(session, window, scope)
        top, around, ranked = rank_in_memory(scores, limit, around_id)
    else:
        indexed = None
        if scope.department is None and zone is not None and window.period is not None:
            indexed = await company_ranking(
                session, window.period, window.key, zone, limit, around_id
            )
        if indexed is not None:
            top, around, ranked = indexed
        else:
            top, around, ranked = await live_ranked(session, window, scope, limit, around_id)

    shown = {e for e, _p, _r in top} | {e for e, _p, _r in around}
    changes: dict[int, int] = {}
    late_scores: list[tuple[int, int]] = []
    adjusted = 0
    if indexed_frozen is not None:
        changes, late_scores, adjusted = indexed_frozen.adjustments(shown)
    elif frozen is not None:
        changes, late_scores, adjusted = await frozen_adjustments(session, frozen, scope, shown)
    people = await people_by_id(session, shown | {e for e, _p in late_scores}) if names else {}

    def row(employee_id: int, points: int, rank: int) -> BoardRow:
        employee, department = people[employee_id] if names else (UNNAMED, "")
        anonymous = employee.board_opt_out and employee_id != viewer_id
        return BoardRow(
            rank=rank,
            employee_id=employee_id,
            points=points,
            name=_(ANONYMOUS) if anonymous else employee.name,
            userid=None if anonymous else employee.userid,
            department="" if anonymous else department,
            is_viewer=employee_id == viewer_id,
            anonymous=anonymous,
            adjustment=changes.get(employee_id, 0),
        )

    top_rows = [row(*r) for r in top]
    around_rows = [row(*r) for r in around]
    everyone = top_rows + around_rows
    me = next((r for r in everyone if r.employee_id == around_id), None)
    if me is not None and around_id != viewer_id and me.anonymous:
        # Asking around someone who opted out must not single them out.
        me, around_rows = None, []
    late = [row(e, p, 0) for e, p in late_scores]
    return Board(window, scope, top_rows, around_rows, me, ranked, frozen, late, adjusted)


class Shown(NamedTuple):
    """What a board shows of a person (plain columns: a board names fifty people)."""

    userid: str
    name: str
    board_opt_out: bool


UNNAMED = Shown("", "", False)


async def people_by_id(session: AsyncSession, ids: set[int]) -> dict[int, tuple[Shown, str]]:
    if not ids:
        return {}
    if session.dirty or session.new:
        await session.flush()  # as the session's own queries would (autoflush)
    connection = await session.connection()
    rows = (
        await connection.execute(
            select_columns(
                col(Employee.id),
                col(Employee.userid),
                col(Employee.name),
                col(Employee.board_opt_out),
                col(Department.name),
            )
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(among(col(Employee.id), sorted(ids), is_postgres(session)))
        )
    ).all()
    return {
        int(id_): (Shown(userid, name, bool(opt_out)), department)
        for id_, userid, name, opt_out, department in rows
        if id_ is not None
    }


# ---------------------------------------------------------------------------- opting out


async def set_board_opt_out(
    session: AsyncSession, employee: Employee, opt_out: bool, *, ip: str = "", user_agent: str = ""
) -> None:
    """A person hides (or shows) their name on public boards; audited."""
    if employee.status != EmployeeStatus.active:
        raise Forbidden(_("Only active employees can change this."))
    if employee.board_opt_out == opt_out:
        return
    employee.board_opt_out = opt_out
    session.add(employee)
    await record(
        session,
        actor=employee.userid,
        action="board.opt_out" if opt_out else "board.opt_in",
        target=employee.userid,
        ip=ip,
        user_agent=user_agent,
    )
