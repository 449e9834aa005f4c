"""Adoption figures of a group of people (a department subtree) in windows of time.

Figures come from the activity events of the people in a department subtree, in a
bounded window (``occurred_at`` range first, so the index does the work). Nothing
here reads the ledger entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from points.errors import NotFound
from points.events.models import ActivityEvent
from points.i18n import N_, _
from points.org.models import Department, Employee, EmployeeStatus


@dataclass(frozen=True)
class Figure:
    key: str
    label: str  # message id
    unit: str  # "%", "h" or ""
    higher_is_better: bool = True


FIGURES: tuple[Figure, ...] = (
    Figure("active_share", N_("Active users"), "%"),
    Figure("approvals_submitted", N_("Approvals submitted online"), ""),
    Figure("approval_users_share", N_("People approving online"), "%"),
    Figure("on_time_share", N_("Approvals on time"), "%"),
    Figure("turnaround_hours", N_("Average approval turnaround"), "h", higher_is_better=False),
    Figure("docs_shared", N_("Documents shared"), ""),
    Figure("meetings", N_("Meetings"), ""),
    Figure("checkins", N_("Check-ins"), ""),
    Figure("customers_tagged", N_("Customers tagged"), ""),
)
FIGURES_BY_KEY = {f.key: f for f in FIGURES}

_COUNTED_TYPES = {
    "docs_shared": "doc.shared",
    "meetings": "meeting.started",
    "checkins": "checkin.recorded",
    "customers_tagged": "customer.tagged",
}


@dataclass
class Figures:
    """Adoption figures of a group of people in one window."""

    start: datetime
    end: datetime
    members: int
    active: int = 0
    approvals_submitted: int = 0
    approval_users: int = 0
    on_time: int = 0
    turnaround_hours: float | None = None
    docs_shared: int = 0
    meetings: int = 0
    checkins: int = 0
    customers_tagged: int = 0

    def _share(self, part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def active_share(self) -> float | None:
        return self._share(self.active, self.members)

    @property
    def approval_users_share(self) -> float | None:
        return self._share(self.approval_users, self.members)

    @property
    def on_time_share(self) -> float | None:
        return self._share(self.on_time, self.approvals_submitted)

    def value(self, key: str) -> float | None:
        found = getattr(self, key)
        return None if found is None else float(found)

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        values["members"] = self.members
        values["active"] = self.active
        for figure in FIGURES:
            values[figure.key] = self.value(figure.key)
        return values


def eligible() -> list[ColumnElement[bool]]:
    return [col(Employee.excluded).is_(False), col(Employee.status) == EmployeeStatus.active]


async def department_ids(session: AsyncSession, roots: Sequence[int] | None) -> list[int] | None:
    """Every department under the given roots (None: the whole company)."""
    if roots is None:
        return None
    paths = (
        await session.exec(select(Department.path).where(col(Department.id).in_(list(roots))))
    ).all()
    if len(paths) != len(set(roots)):
        raise NotFound(_("No such department."))
    ids: set[int] = set()
    for path in paths:
        found = await session.exec(
            select(Department.id).where(col(Department.path).startswith(path))
        )
        ids.update(found.all())
    return sorted(ids)


def member_ids(departments: list[int] | None) -> SelectOfScalar[int | None]:
    query = select(col(Employee.id)).where(*eligible())
    if departments is not None:
        query = query.where(col(Employee.department_id).in_(departments))
    return query


async def member_count(session: AsyncSession, departments: list[int] | None) -> int:
    query = select(func.count()).select_from(Employee).where(*eligible())
    if departments is not None:
        query = query.where(col(Employee.department_id).in_(departments))
    return int((await session.exec(query)).one())


#: Figures a goal may bind to approval templates (报销线上化: 报销 approvals only).
APPROVAL_FIGURES = frozenset(
    {"approvals_submitted", "approval_users_share", "on_time_share", "turnaround_hours"}
)


async def figures_for_windows(
    session: AsyncSession,
    departments: list[int] | None,
    windows: Sequence[tuple[datetime, datetime]],
    *,
    templates: Sequence[str] = (),
) -> list[Figures]:
    """Figures for windows in time order in two queries over the covering time range.

    Each event is put in its window by a CASE on ``occurred_at``, so one index range
    scan serves a whole trend chart. Windows may leave gaps between them (the same
    elapsed part of the previous period, then this period so far): events in a gap
    count nowhere. With ``templates``, the approval figures count only approvals of those
    templates (the other figures are not meant to be read then).
    """
    members = await member_count(session, departments)
    result = [Figures(start, end, members) for start, end in windows]
    if not windows:
        return result
    occurred = col(ActivityEvent.occurred_at)
    bucket = case(
        *(
            (and_(occurred >= start, occurred < end), index)
            for index, (start, end) in enumerate(windows)
        ),
        else_=-1,
    ).label("bucket")
    where = [
        occurred >= windows[0][0],
        occurred < windows[-1][1],
        col(ActivityEvent.employee_id).in_(member_ids(departments)),
    ]
    active_rows = (
        await session.exec(
            select(bucket, func.count(func.distinct(ActivityEvent.employee_id)))
            .where(*where)
            .group_by(bucket)
        )
    ).all()
    for index, active in active_rows:
        if 0 <= index < len(result):
            result[index].active = int(active)
    attributes = col(ActivityEvent.attributes)
    on_time = attributes["on_time"].as_boolean()
    turnaround = attributes["turnaround_hours"].as_float()
    # More than four columns: past sqlmodel's typed overloads of select().
    columns: list[Any] = [
        bucket,
        col(ActivityEvent.type),
        func.count(),
        func.count(func.distinct(ActivityEvent.employee_id)),
        func.sum(case((on_time.is_(True), 1), else_=0)),
        func.avg(turnaround),
    ]
    types = ["approval.submitted", "approval.decided", *_COUNTED_TYPES.values()]
    chosen = [col(ActivityEvent.type).in_(types)]
    if templates:
        chosen.append(attributes["template"].as_string().in_(list(templates)))
    rows = (
        await session.exec(
            select(*columns).where(*where, *chosen).group_by(bucket, col(ActivityEvent.type))
        )
    ).all()
    for index, type_, count, people, timely, hours in rows:
        if not 0 <= index < len(result):
            continue
        figures = result[index]
        if type_ == "approval.submitted":
            figures.approvals_submitted = int(count)
            figures.approval_users = int(people)
            figures.on_time = int(timely or 0)
        elif type_ == "approval.decided":
            figures.turnaround_hours = None if hours is None else round(float(hours), 1)
        for key, counted in _COUNTED_TYPES.items():
            if type_ == counted:
                setattr(figures, key, int(count))
    return result


def format_figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:g}"
    return f"{text}%" if unit == "%" else (f"{text} h" if unit == "h" else text)
