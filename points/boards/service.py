"""Leaderboards: who earned most in a period, read from period scores (never the entries).

Individual boards show the top N and the viewer with two neighbours either side;
equal points share a rank (1, 2, 2, 4); excluded people and leavers never appear;
people who opted out are shown as 匿名同事 to everyone but themselves. Weeks and
months are frozen when they close (:func:`freeze_closed`): their board is the one
published then, and anything that changed later is shown as an adjustment beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, text, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from points.audit.service import record
from points.boards import ranking
from points.boards.models import OFF_BOARD_SQL, FrozenBoard, FrozenRank
from points.boards.periods import (
    FROZEN_PERIODS,
    current_key,
    first_day,
    is_closed,
    parse_period,
    previous_key,
    window,
)
from points.db import utcnow
from points.errors import Forbidden, InvalidInput, NotFound
from points.i18n import N_, _
from points.ledger.models import Period, PeriodScore
from points.ledger.service import insert_for
from points.org.models import Department, Employee, EmployeeStatus

NEIGHBOURS = 2
MAX_TOP = 200
MAX_CAMPAIGN_DAYS = 366
# Departments smaller than this are folded into their parent on department boards.
MIN_DEPARTMENT_SIZE = 5
# Shown instead of the name of someone who opted out (zh_CN: 匿名同事).
ANONYMOUS = N_("Anonymous colleague")


@dataclass(frozen=True)
class Scope:
    """Whose scores a board ranks: the company, or a department with its sub-departments."""

    department: Department | None = None

    @property
    def key(self) -> str:
        return "company" if self.department is None else f"department:{self.department.id}"


@dataclass(frozen=True)
class Window:
    """A board's time: a named period and key, or a campaign's local days (inclusive)."""

    period: Period | None
    key: str
    days: tuple[date, date] | None = None

    @property
    def is_campaign(self) -> bool:
        return self.days is not None


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


def competition_ranks(points: Sequence[int], first_rank: int = 1) -> list[int]:
    """Ranks for points sorted high to low: equal points share a rank (1, 2, 2, 4)."""
    ranks: list[int] = []
    for index, value in enumerate(points):
        if index and value == points[index - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(first_rank + index)
    return ranks


# ---------------------------------------------------------------------------- scopes


async def resolve_scope(session: AsyncSession, value: str | None) -> Scope:
    """``company`` (default) or ``department:{id}``; a clear 422/404 otherwise."""
    if not value or value == "company":
        return Scope()
    kind, _sep, raw = value.partition(":")
    if kind != "department" or not raw.isdigit():
        raise InvalidInput(_("scope must be company or department:{id}"))
    department = await session.get(Department, int(raw))
    if department is None:
        raise NotFound(_("No such department."))
    return Scope(department)


def resolve_window(
    period: Period | str,
    key: str | None,
    zone: tzinfo,
    *,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
) -> Window:
    """The board's window: ``campaign`` needs start and end days, others a key (default now)."""
    if period == "campaign":
        if start is None or end is None or end < start:
            raise InvalidInput(_("A campaign needs a start and an end date (end ≥ start)."))
        if (end - start).days >= MAX_CAMPAIGN_DAYS:
            raise InvalidInput(_("A campaign can span at most a year."))
        return Window(None, f"{start.isoformat()}..{end.isoformat()}", (start, end))
    period = parse_period(period)
    if period == Period.day:
        raise InvalidInput(_("Boards cover a week or longer; use a campaign for days."))
    chosen = key or current_key(period, now or utcnow(), zone)
    first_day(period, chosen)  # validates the key's shape
    return Window(period, chosen)


def _off_board_ids() -> SelectOfScalar[int | None]:
    return select(col(Employee.id)).where(text(OFF_BOARD_SQL))


def _in_scope_ids(scope: Scope) -> SelectOfScalar[int | None]:
    assert scope.department is not None
    return (
        select(col(Employee.id))
        .join(Department, col(Department.id) == col(Employee.department_id))
        .where(col(Department.path).startswith(scope.department.path))
    )


# ---------------------------------------------------------------------------- live boards


def _score_filter(window: Window, scope: Scope) -> list[ColumnElement[bool]]:
    assert window.period is not None
    conditions: list[ColumnElement[bool]] = [
        col(PeriodScore.period) == window.period.value,
        col(PeriodScore.period_key) == window.key,
    ]
    if scope.department is not None:
        conditions.append(col(PeriodScore.employee_id).in_(_in_scope_ids(scope)))
    return conditions


async def _live_ranked(
    session: AsyncSession, window: Window, scope: Scope, limit: int, around_id: int | None
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], int]:
    """(top, around, ranked) as (employee id, points, rank) from PeriodScore, all in SQL.

    Ranks are "1 + how many scored more"; counting uses the board index
    (period, period_key, points) and subtracts the few off-board people separately,
    so the count never has to visit the employee table row by row. Four queries:
    the top, the neighbourhood, and the two counts.
    """
    base = _score_filter(window, scope)
    ep, pp = col(PeriodScore.employee_id), col(PeriodScore.points)
    eligible = [*base, pp > 0, ep.not_in(_off_board_ids())]
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
    counts = await _count_above(session, base, [0, *values])
    ranks = {v: c + 1 for v, c in zip(values, counts[1:], strict=True)}
    around = [(e, p, ranks[p]) for e, p in rows]
    return top, around, counts[0]


async def _count_above(
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
            select(*columns).where(*where, col(PeriodScore.employee_id).in_(_off_board_ids()))
        )
    ).one()
    return [int(a or 0) - int(b or 0) for a, b in zip(everyone[1:], off_board[1:], strict=True)]


# ---------------------------------------------------------------------------- in-memory ranking


def _rank_in_memory(
    scores: Iterable[tuple[int, int]], limit: int, around_id: int | None
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], int]:
    """The same answer as :func:`_live_ranked` for scores already in hand (campaigns)."""
    ordered = sorted(((e, p) for e, p in scores if p > 0), key=lambda r: (-r[1], r[0]))
    ranks = competition_ranks([p for _e, p in ordered])
    rows = [(e, p, r) for (e, p), r in zip(ordered, ranks, strict=True)]
    top = rows[:limit]
    around: list[tuple[int, int, int]] = []
    if around_id is not None and around_id not in {e for e, _p, _r in top}:
        index = next((i for i, row in enumerate(rows) if row[0] == around_id), None)
        if index is not None:
            around = rows[max(0, index - NEIGHBOURS) : index + NEIGHBOURS + 1]
    return top, around, len(rows)


async def _campaign_scores(
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
            col(PeriodScore.employee_id).not_in(_off_board_ids()),
        )
        .group_by(col(PeriodScore.employee_id))
    )
    if scope.department is not None:
        query = query.where(col(PeriodScore.employee_id).in_(_in_scope_ids(scope)))
    return [(int(e), int(p or 0)) for e, p in (await session.exec(query)).all()]


# ---------------------------------------------------------------------------- frozen boards


async def frozen_board(session: AsyncSession, period: Period, key: str) -> FrozenBoard | None:
    return (
        await session.exec(
            select(FrozenBoard).where(
                FrozenBoard.period == period.value, FrozenBoard.period_key == key
            )
        )
    ).first()


async def _frozen_ranked(
    session: AsyncSession,
    board: FrozenBoard,
    scope: Scope,
    limit: int,
    around_id: int | None,
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], int]:
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
    off = set((await session.exec(_off_board_ids())).all())
    visible = [(int(e), int(p), int(r)) for e, p, r in rows if e not in off]
    top = visible[:limit]
    around: list[tuple[int, int, int]] = []
    if around_id is not None and around_id not in {e for e, _p, _r in top}:
        index = next((i for i, row in enumerate(visible) if row[0] == around_id), None)
        if index is not None:
            around = visible[max(0, index - NEIGHBOURS) : index + NEIGHBOURS + 1]
    return top, around, len(visible)


async def _frozen_adjustments(
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
            col(PeriodScore.employee_id).not_in(_off_board_ids()),
        )
        .order_by(col(PeriodScore.points).desc(), col(PeriodScore.employee_id))
    )
    if scope.department is not None:
        late_query = late_query.where(col(PeriodScore.employee_id).in_(_in_scope_ids(scope)))
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
) -> Board:
    """The board for a window and scope, as ``viewer_id`` may see it.

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
    if frozen is not None:
        top, around, ranked = await _frozen_ranked(session, frozen, scope, limit, around_id)
    elif window.is_campaign:
        scores = await _campaign_scores(session, window, scope)
        top, around, ranked = _rank_in_memory(scores, limit, around_id)
    else:
        indexed = None
        if scope.department is None and zone is not None and window.period is not None:
            indexed = await ranking.company_ranking(
                session, window.period, window.key, zone, limit, around_id
            )
        if indexed is not None:
            top, around, ranked = indexed
        else:
            top, around, ranked = await _live_ranked(session, window, scope, limit, around_id)

    shown = {e for e, _p, _r in top} | {e for e, _p, _r in around}
    changes: dict[int, int] = {}
    late_scores: list[tuple[int, int]] = []
    adjusted = 0
    if frozen is not None:
        changes, late_scores, adjusted = await _frozen_adjustments(session, frozen, scope, shown)
    people = await _people(session, shown | {e for e, _p in late_scores})

    def row(employee_id: int, points: int, rank: int) -> BoardRow:
        employee, department = people[employee_id]
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


async def _people(session: AsyncSession, ids: set[int]) -> dict[int, tuple[Employee, str]]:
    if not ids:
        return {}
    rows = (
        await session.exec(
            select(Employee, Department.name)
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(col(Employee.id).in_(sorted(ids)))
        )
    ).all()
    return {int(e.id): (e, name) for e, name in rows if e.id is not None}


# ---------------------------------------------------------------------------- departments


@dataclass
class DepartmentRow:
    department_id: int
    name: str
    folded: list[str]  # small departments counted here, for privacy
    members: int
    points: int
    participants: int
    rank_per_head: int = 0
    rank_participation: int = 0

    @property
    def per_head(self) -> float:
        return round(self.points / self.members, 1) if self.members else 0.0

    @property
    def participation(self) -> float:
        return round(100 * self.participants / self.members, 1) if self.members else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "name": self.name,
            "folded": self.folded,
            "members": self.members,
            "points": self.points,
            "per_head": self.per_head,
            "participation_pct": self.participation,
            "rank_per_head": self.rank_per_head,
            "rank_participation": self.rank_participation,
        }


@dataclass
class DepartmentBoard:
    window: Window
    scope: Scope
    rows: list[DepartmentRow]
    hidden_small: int  # people in departments too small to show even after folding
    order: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.window.period.value if self.window.period else "campaign",
            "key": self.window.key,
            "scope": self.scope.key,
            "order": self.order,
            "hidden_small": self.hidden_small,
            "departments": [r.to_dict() for r in self.rows],
        }


def _eligible_employee() -> list[ColumnElement[bool]]:
    return [col(Employee.excluded).is_(False), col(Employee.status) == EmployeeStatus.active]


async def department_board(
    session: AsyncSession, *, window: Window, scope: Scope, order: str = "per_head"
) -> DepartmentBoard:
    """Departments against each other, by points per head and by participation rate.

    Each department counts its own members; departments with fewer than five are
    folded into their parent (bottom up), so no small team's figures are exposed.
    """
    if order not in ("per_head", "participation"):
        raise InvalidInput(_("order must be per_head or participation"))
    departments = (await session.exec(select(Department))).all()
    if scope.department is not None:
        root_path = scope.department.path
        departments = [d for d in departments if d.path.startswith(root_path)]
    by_id = {d.id: d for d in departments}
    members: dict[int, int] = {d.id: 0 for d in departments}
    member_rows = (
        await session.exec(
            select(Employee.department_id, func.count())
            .where(*_eligible_employee(), col(Employee.department_id).in_(sorted(by_id)))
            .group_by(col(Employee.department_id))
        )
    ).all()
    for department_id, count in member_rows:
        members[int(department_id)] = int(count)

    # Per person first (a campaign sums days), then per department.
    if window.is_campaign:
        assert window.days is not None
        person_filter = [
            col(PeriodScore.period) == Period.day.value,
            col(PeriodScore.period_key) >= window.days[0].isoformat(),
            col(PeriodScore.period_key) <= window.days[1].isoformat(),
        ]
    else:
        assert window.period is not None
        person_filter = [
            col(PeriodScore.period) == window.period.value,
            col(PeriodScore.period_key) == window.key,
        ]
    person = (
        select(
            col(PeriodScore.employee_id).label("employee_id"),
            func.sum(PeriodScore.points).label("points"),
        )
        .where(*person_filter)
        .group_by(col(PeriodScore.employee_id))
        .subquery()
    )
    score_rows = (
        await session.exec(
            select(
                Employee.department_id,
                func.sum(person.c.points),
                func.sum(case((person.c.points > 0, 1), else_=0)),
            )
            .join(person, person.c.employee_id == col(Employee.id))
            .where(*_eligible_employee(), col(Employee.department_id).in_(sorted(by_id)))
            .group_by(col(Employee.department_id))
        )
    ).all()
    units = {d.id: DepartmentRow(d.id, d.name, [], members[d.id], 0, 0) for d in departments}
    for department_id, points, participants in score_rows:
        unit = units[int(department_id)]
        unit.points, unit.participants = int(points or 0), int(participants or 0)

    # Fold small departments into their parent, deepest first.
    hidden_small = 0
    for department in sorted(departments, key=lambda d: -d.path.count("/")):
        unit = units[department.id]
        if unit.members >= MIN_DEPARTMENT_SIZE:
            continue
        parent = units.get(department.parent_id) if department.parent_id is not None else None
        if parent is not None:
            parent.members += unit.members
            parent.points += unit.points
            parent.participants += unit.participants
            if unit.members:
                parent.folded.append(unit.name)
            parent.folded.extend(unit.folded)
        else:
            hidden_small += unit.members
        del units[department.id]

    rows = list(units.values())
    by_head = sorted(rows, key=lambda r: -r.per_head)
    for r, rank in zip(by_head, _desc_keys([r.per_head for r in by_head]), strict=True):
        r.rank_per_head = rank
    by_part = sorted(rows, key=lambda r: -r.participation)
    for r, rank in zip(by_part, _desc_keys([r.participation for r in by_part]), strict=True):
        r.rank_participation = rank
    rows.sort(
        key=lambda r: (
            (r.rank_per_head, r.name) if order == "per_head" else (r.rank_participation, r.name)
        )
    )
    return DepartmentBoard(window, scope, rows, hidden_small, order)


def _desc_keys(values: Sequence[float]) -> list[int]:
    """Competition ranks of values already sorted high to low."""
    ranks: list[int] = []
    for index, value in enumerate(values):
        ranks.append(ranks[-1] if index and value == values[index - 1] else index + 1)
    return ranks


# ---------------------------------------------------------------------------- freezing


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
    closed_at = window(period, key, zone)[1]
    stmt = (
        insert_for(session, FrozenBoard)
        .values(period=period.value, period_key=key, closed_at=closed_at, frozen_at=now, people=0)
        .on_conflict_do_nothing(index_elements=["period", "period_key"])
        .returning(col(FrozenBoard.id))
    )
    board_id = (await session.exec(stmt)).scalar_one_or_none()
    if board_id is None:
        return None
    rows = (
        await session.exec(
            select(PeriodScore.employee_id, PeriodScore.points, Employee.department_id)
            .join(Employee, col(Employee.id) == col(PeriodScore.employee_id))
            .where(
                PeriodScore.period == period.value,
                PeriodScore.period_key == key,
                col(PeriodScore.points) > 0,
                *_eligible_employee(),
            )
            .order_by(col(PeriodScore.points).desc(), col(PeriodScore.employee_id))
        )
    ).all()
    ranks = competition_ranks([int(p) for _e, p, _d in rows])
    values = [
        {"board_id": board_id, "employee_id": e, "points": p, "department_id": d, "rank": r}
        for (e, p, d), r in zip(rows, ranks, strict=True)
    ]
    for start in range(0, len(values), 5000):
        await session.exec(insert_for(session, FrozenRank).values(values[start : start + 5000]))
    board = await session.get(FrozenBoard, board_id)
    assert board is not None
    board.people = len(values)
    session.add(board)
    await record(
        session,
        actor="system",
        action="board.freeze",
        target=f"{period.value}:{key}",
        details={"people": len(values)},
    )
    return board


async def freeze_closed(
    session: AsyncSession, zone: tzinfo, now: datetime | None = None, lookback: int = 2
) -> list[str]:
    """Freeze the last ``lookback`` closed weeks and months not frozen yet; their keys."""
    now = now or utcnow()
    frozen: list[str] = []
    for period in FROZEN_PERIODS:
        key = current_key(period, now, zone)
        for _step in range(lookback):
            key = previous_key(period, key)
            if await frozen_board(session, period, key) is None:
                board = await freeze(session, period, key, zone, now)
                if board is not None:
                    frozen.append(f"{period.value}:{key}")
    return frozen


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


# ---------------------------------------------------------------------------- exports


async def export_board(
    session: AsyncSession,
    *,
    window: Window,
    scope: Scope,
    actor: str,
    ip: str = "",
    user_agent: str = "",
) -> list[list[str]]:
    """The whole board as CSV rows for HR (real names, with an opted-out column); audited."""
    frozen = None
    if window.period in FROZEN_PERIODS:
        frozen = await frozen_board(session, window.period, window.key)
    everyone = 10**9
    if frozen is not None:
        ranked, _around, _n = await _frozen_ranked(session, frozen, scope, everyone, None)
    else:
        if window.is_campaign:
            scores = await _campaign_scores(session, window, scope)
        else:
            ep, pp = col(PeriodScore.employee_id), col(PeriodScore.points)
            rows = await session.exec(
                select(ep, pp).where(
                    *_score_filter(window, scope), pp > 0, ep.not_in(_off_board_ids())
                )
            )
            scores = [(int(e), int(p)) for e, p in rows.all()]
        ranked, _around, _n = _rank_in_memory(scores, everyone, None)
    people = await _people(session, {e for e, _p, _r in ranked})
    lines = [[_("Rank"), "userid", _("Name"), _("Department"), _("Points"), _("Opted out")]]
    for employee_id, points, rank in ranked:
        employee, department = people[employee_id]
        lines.append(
            [
                str(rank),
                employee.userid,
                employee.name,
                department,
                str(points),
                "1" if employee.board_opt_out else "",
            ]
        )
    await record(
        session,
        actor=actor,
        action="export.board",
        target=scope.key,
        details={"window": window.key, "rows": len(lines) - 1, "frozen": frozen is not None},
        ip=ip,
        user_agent=user_agent,
    )
    return lines


async def export_department_board(
    session: AsyncSession,
    *,
    board: DepartmentBoard,
    actor: str,
    ip: str = "",
    user_agent: str = "",
) -> list[list[str]]:
    """Departments against each other as CSV rows; audited."""
    lines = [
        [
            _("Department"),
            _("Members"),
            _("Points"),
            _("Points per head"),
            _("Participation %"),
            _("Rank by points per head"),
            _("Rank by participation"),
            _("Includes"),
        ]
    ]
    for row in board.rows:
        lines.append(
            [
                row.name,
                str(row.members),
                str(row.points),
                f"{row.per_head:g}",
                f"{row.participation:g}",
                str(row.rank_per_head),
                str(row.rank_participation),
                "、".join(row.folded),
            ]
        )
    await record(
        session,
        actor=actor,
        action="export.department_board",
        target=board.scope.key,
        details={"window": board.window.key, "rows": len(lines) - 1},
        ip=ip,
        user_agent=user_agent,
    )
    return lines


async def has_unfrozen_closed(
    session: AsyncSession, zone: tzinfo, now: datetime | None = None
) -> bool:
    """True when the week or month that just closed has not been frozen yet."""
    now = now or utcnow()
    for period in FROZEN_PERIODS:
        last = previous_key(period, current_key(period, now, zone))
        if await frozen_board(session, period, last) is None:
            return True
    return False
