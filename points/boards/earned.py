"""Points stay with the department where they were earned.

``department_score`` is written with every earning transaction under the person's
department at that time, so it says what each department earned in a period even
after people move. This module answers the rest from what is maintained:

- who belonged to a department during a window: the current department
  (``Employee.department_id``, since the person's last move) and the
  ``former_department`` rows a move leaves behind. A person who moved during the
  window is a member of each department they were in;
- who earned something there: a person who stayed in one department for the whole
  window earned their period score there; a person who moved during it (few) is
  looked up in their own ledger transactions, by the department each one carries.

A period's board reads what is maintained, so its cost follows the departments and
the people who moved or left, not the company: ``department_score.participants``
(kept by the ledger writer, :mod:`points.ledger.participation`) and a head count of
who is on the roll now (an index-only count), corrected for the few whose present
does not tell their past. A campaign's days are counted over everyone's scores.

People on the roll of a window: not excluded, and either still here or left on or
after its first day (a leaver's points stay with their department, so they count
as a member of the periods they were there for).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, text, union
from sqlalchemy.sql import Subquery
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.windows import Window
from points.calendar import Period, bounds, day_start, local_day
from points.ledger.models import EARNING_KINDS, DepartmentScore, LedgerTransaction, PeriodScore
from points.org.models import (
    OFF_ROLL_NOW,
    ON_ROLL_NOW,
    Employee,
    EmployeeStatus,
    FormerDepartment,
)


@dataclass(frozen=True)
class Span:
    """A board's window as what scores are kept by (period rows or day rows) and instants."""

    period: Period | None  # None: a campaign, summed from day rows
    key: str
    days: tuple[date, date] | None
    start: datetime
    end: datetime

    def score_filter(
        self, model: type[PeriodScore] | type[DepartmentScore]
    ) -> list[ColumnElement[bool]]:
        if self.days is not None:
            return [
                col(model.period) == Period.day.value,
                col(model.period_key) >= self.days[0].isoformat(),
                col(model.period_key) <= self.days[1].isoformat(),
            ]
        assert self.period is not None
        return [col(model.period) == self.period.value, col(model.period_key) == self.key]


def span_of(window: Window, zone: tzinfo) -> Span:
    if window.days is not None:
        first, last = window.days
        end = day_start(last + timedelta(days=1), zone)
        return Span(None, window.key, window.days, day_start(first, zone), end)
    assert window.period is not None
    start, end = bounds(window.period, window.key, zone)
    return Span(window.period, window.key, None, start, end)


def on_roll(span: Span, zone: tzinfo) -> list[ColumnElement[bool]]:
    """People who count for a window: not excluded; still here, or left during or after it."""
    first_day = local_day(span.start, zone)
    return [
        col(Employee.excluded).is_(False),
        or_(
            col(Employee.status) == EmployeeStatus.active,
            col(Employee.left_on) >= first_day,
        ),
    ]


def memberships(span: Span, zone: tzinfo) -> Subquery:
    """(employee_id, department_id): who was in which department during the window."""
    moved_after = exists().where(
        col(FormerDepartment.employee_id) == col(Employee.id),
        col(FormerDepartment.until) >= span.end,
    )
    # Labelled columns are past sqlmodel's typed select() overloads.
    current: Any = select(
        col(Employee.id).label("employee_id"), col(Employee.department_id).label("department_id")
    ).where(*on_roll(span, zone), ~moved_after)
    former: Any = (
        select(
            col(FormerDepartment.employee_id).label("employee_id"),
            col(FormerDepartment.department_id).label("department_id"),
        )
        .join(Employee, col(Employee.id) == col(FormerDepartment.employee_id))
        .where(
            *on_roll(span, zone),
            or_(col(FormerDepartment.since).is_(None), col(FormerDepartment.since) < span.end),
            col(FormerDepartment.until) > span.start,
        )
    )
    return union(current, former).subquery("membership")


async def movers(session: AsyncSession, span: Span) -> list[int]:
    """People who changed department during the window (a short read: moves are few)."""
    found = await session.exec(
        select(FormerDepartment.employee_id)
        .where(col(FormerDepartment.until) > span.start, col(FormerDepartment.until) < span.end)
        .distinct()
    )
    return sorted(int(e) for e in found.all())


async def members_and_participants(
    session: AsyncSession, span: Span, zone: tzinfo, departments: Collection[int]
) -> dict[int, tuple[int, int]]:
    """Per department: (members during the window, members who earned anything there).

    A mover is a member of each department they were in, and earned where their
    transactions say. A period reads what is maintained (:func:`_maintained`); a
    campaign's days are counted from everyone's scores (:func:`_counted`).
    """
    if span.period is not None:
        return await _maintained(session, span, zone, departments)
    return await _counted(session, span, zone, departments)


async def _counted(
    session: AsyncSession, span: Span, zone: tzinfo, departments: Collection[int]
) -> dict[int, tuple[int, int]]:
    """Members and participants from every member's score in the window."""
    member, person = memberships(span, zone), _person_points(span)
    moved = await movers(session, span)
    stayer_earned = person.c.points > 0
    if moved:
        stayer_earned = and_(stayer_earned, member.c.employee_id.not_in(moved))
    # Movers count where they earned, when they are on the roll of the window.
    moved_on_roll = await _on_roll_among(session, span, zone, moved)
    rows = (
        await session.exec(
            select(
                member.c.department_id,
                func.count(),
                func.sum(case((stayer_earned, 1), else_=0)),
            )
            .outerjoin(person, person.c.employee_id == member.c.employee_id)
            .where(member.c.department_id.in_(sorted(departments)))
            .group_by(member.c.department_id)
        )
    ).all()
    counts = {int(d): [int(n), int(p or 0)] for d, n, p in rows}
    for (_person, department), points in (
        await _movers_earned(session, span, moved_on_roll, departments)
    ).items():
        if points > 0 and department in counts:
            counts[department][1] += 1
    return {d: (n, p) for d, (n, p) in counts.items()}


async def _on_roll_among(
    session: AsyncSession, span: Span, zone: tzinfo, people: list[int]
) -> list[int]:
    """Those of ``people`` on the roll of the window."""
    if not people:
        return []
    found = await session.exec(
        select(col(Employee.id)).where(col(Employee.id).in_(people), *on_roll(span, zone))
    )
    return sorted(int(e or 0) for e in found.all())


# Up to this many departments are named in the SQL; more are picked out of the answers.
FILTER_IN_SQL = 50


async def _maintained(
    session: AsyncSession, span: Span, zone: tzinfo, departments: Collection[int]
) -> dict[int, tuple[int, int]]:
    """Members and participants of a period from what is maintained, plus the few
    people whose membership the present does not tell.

    Members: the people on the roll now in each department (the head count, an
    index-only count), corrected for those it gets wrong for this window: people
    who moved since it began and people who left during or after it, whose
    memberships are worked out one by one (:func:`memberships`).

    Participants: ``department_score.participants``, which counts the people on the
    roll of the window who earned there (kept so by the ledger writer and by every
    change of someone's roll, :mod:`points.ledger.participation`).
    """
    ids = sorted(departments)
    if not ids:
        return {}
    wanted = set(ids)

    def among(column: Any) -> list[ColumnElement[bool]]:
        # Hundreds of ids cost more to send than the few rows they would leave out.
        return [column.in_(ids)] if len(ids) <= FILTER_IN_SQL else []

    first = local_day(span.start, zone)
    off_roll_now = text(OFF_ROLL_NOW)
    # Whose department now, or being on the roll now, is not what they were in the window.
    changed: Any = union(
        select(col(FormerDepartment.employee_id).label("employee_id")).where(
            col(FormerDepartment.until) > span.start
        ),
        select(col(Employee.id).label("employee_id")).where(
            off_roll_now,
            col(Employee.status) != EmployeeStatus.active,
            col(Employee.left_on) >= first,
        ),
    ).subquery("changed")
    heads: dict[int, int] = defaultdict(int)
    for department, count in (
        await session.exec(
            select(Employee.department_id, func.count())
            .where(text(ON_ROLL_NOW), *among(col(Employee.department_id)))
            .group_by(col(Employee.department_id))
        )
    ).all():
        heads[int(department)] += int(count)
    for department, count in (
        await session.exec(
            select(Employee.department_id, func.count())
            .join(changed, changed.c.employee_id == col(Employee.id))
            .where(text(ON_ROLL_NOW), *among(col(Employee.department_id)))
            .group_by(col(Employee.department_id))
        )
    ).all():
        heads[int(department)] -= int(count)
    member = memberships(span, zone)
    for department, count in (
        await session.exec(
            select(member.c.department_id, func.count())
            .join(changed, changed.c.employee_id == member.c.employee_id)
            .where(*among(member.c.department_id))
            .group_by(member.c.department_id)
        )
    ).all():
        heads[int(department)] += int(count)

    earned: dict[int, int] = defaultdict(int)
    for department, participants in (
        await session.exec(
            select(DepartmentScore.department_id, DepartmentScore.participants).where(
                *span.score_filter(DepartmentScore), *among(col(DepartmentScore.department_id))
            )
        )
    ).all():
        earned[int(department)] += int(participants)
    return {d: (n, earned.get(d, 0)) for d, n in heads.items() if n and d in wanted}


async def department_points(
    session: AsyncSession, span: Span, departments: Collection[int]
) -> dict[int, int]:
    """Points each department earned in the window, from the maintained department scores."""
    rows = (
        await session.exec(
            select(DepartmentScore.department_id, func.sum(DepartmentScore.points))
            .where(
                *span.score_filter(DepartmentScore),
                col(DepartmentScore.department_id).in_(sorted(departments)),
            )
            .group_by(col(DepartmentScore.department_id))
        )
    ).all()
    return {int(d): int(p or 0) for d, p in rows}


def _person_points(span: Span) -> Subquery:
    """(employee_id, points) in the window: one period row each, or a campaign's days summed."""
    if span.days is None:
        return (
            select(
                col(PeriodScore.employee_id).label("employee_id"),
                col(PeriodScore.points).label("points"),
            )
            .where(*span.score_filter(PeriodScore))
            .subquery("person")
        )
    return (
        select(
            col(PeriodScore.employee_id).label("employee_id"),
            func.sum(PeriodScore.points).label("points"),
        )
        .where(*span.score_filter(PeriodScore))
        .group_by(col(PeriodScore.employee_id))
        .subquery("person")
    )


async def _movers_earned(
    session: AsyncSession, span: Span, moved: list[int], departments: Collection[int]
) -> dict[tuple[int, int], int]:
    """(person, department) → points earned there in the window, for these movers."""
    if not moved:
        return {}
    rows = (
        await session.exec(
            select(
                LedgerTransaction.employee_id,
                LedgerTransaction.department_id,
                func.sum(LedgerTransaction.points),
            )
            .where(
                col(LedgerTransaction.employee_id).in_(moved),
                col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                col(LedgerTransaction.effective_at) >= span.start,
                col(LedgerTransaction.effective_at) < span.end,
                col(LedgerTransaction.department_id).in_(sorted(departments)),
            )
            .group_by(col(LedgerTransaction.employee_id), col(LedgerTransaction.department_id))
        )
    ).all()
    return {(int(e), int(d)): int(p or 0) for e, d, p in rows if d is not None}


async def top_earners(
    session: AsyncSession, span: Span, zone: tzinfo, departments: Collection[int], limit: int
) -> list[tuple[int, int]]:
    """(person, points) of the active people who earned most in these departments."""
    member, person = memberships(span, zone), _person_points(span)
    moved = await movers(session, span)
    stayed = [col(Employee.status) == EmployeeStatus.active]
    if moved:
        stayed.append(col(Employee.id).not_in(moved))
    rows = (
        await session.exec(
            select(person.c.employee_id, person.c.points)
            .join(member, member.c.employee_id == person.c.employee_id)
            .join(Employee, col(Employee.id) == person.c.employee_id)
            .where(person.c.points > 0, member.c.department_id.in_(sorted(departments)), *stayed)
            .order_by(person.c.points.desc(), person.c.employee_id)
            .limit(limit)
        )
    ).all()
    earned: dict[int, int] = {int(e): int(p) for e, p in rows}
    by_mover = await _movers_earned(session, span, moved, departments)
    active = set(
        (
            await session.exec(
                select(col(Employee.id)).where(
                    col(Employee.id).in_(sorted({e for e, _d in by_mover})),
                    col(Employee.status) == EmployeeStatus.active,
                )
            )
        ).all()
    )
    for (employee_id, _department), points in by_mover.items():
        if employee_id in active:
            earned[employee_id] = earned.get(employee_id, 0) + points
    ranked = sorted(((e, p) for e, p in earned.items() if p > 0), key=lambda r: (-r[1], r[0]))
    return ranked[:limit]
