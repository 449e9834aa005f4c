"""What a board covers: its window of time (a period of the company calendar, or a
campaign's days) and its scope (the company, or a department with its subtree),
and the people who may appear on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import ColumnElement, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from points.boards.models import OFF_BOARD_SQL
from points.calendar import Period, fit_key, parse_period
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.org.models import Department, Employee, EmployeeStatus

# Periods a board can show (a day is too short to be worth a board).
BOARD_PERIODS = (Period.week, Period.month, Period.quarter, Period.year, Period.all)
# Periods whose board is frozen (published) when they close.
FROZEN_PERIODS = (Period.week, Period.month)
MAX_CAMPAIGN_DAYS = 366


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


async def resolve_scope(session: AsyncSession, value: str | None) -> Scope:
    """``company`` (default) or ``department:{id}``; a clear 422/404 otherwise."""
    if not value or value == "company":
        return Scope()
    kind, _sep, raw = value.partition(":")
    if kind != "department" or not raw.isdigit() or len(raw) > 9:
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
    """The board's window: ``campaign`` needs start and end days, others a key.

    A missing key, or one that does not name a period of this kind (the month's
    ``2026-11`` kept by a form switched to weeks), means the current period.
    """
    if period == "campaign":
        if start is None or end is None or end < start:
            raise InvalidInput(_("A campaign needs a start and an end date (end ≥ start)."))
        if (end - start).days >= MAX_CAMPAIGN_DAYS:
            raise InvalidInput(_("A campaign can span at most a year."))
        return Window(None, f"{start.isoformat()}..{end.isoformat()}", (start, end))
    period = parse_period(period)
    if period == Period.day:
        raise InvalidInput(_("Boards cover a week or longer; use a campaign for days."))
    return Window(period, fit_key(period, key, now or utcnow(), zone))


def off_board_ids() -> SelectOfScalar[int | None]:
    return select(col(Employee.id)).where(text(OFF_BOARD_SQL))


def in_scope_ids(scope: Scope) -> SelectOfScalar[int | None]:
    assert scope.department is not None
    return (
        select(col(Employee.id))
        .join(Department, col(Department.id) == col(Employee.department_id))
        .where(col(Department.path).startswith(scope.department.path))
    )


def eligible_employee() -> list[ColumnElement[bool]]:
    return [col(Employee.excluded).is_(False), col(Employee.status) == EmployeeStatus.active]
