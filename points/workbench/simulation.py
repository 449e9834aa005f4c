"""What-if simulation over stored events: a candidate rule set against the active one.

Events are streamed from the database in chunks (a server-side cursor on
PostgreSQL), turned into :class:`rules.Event` values with the person's department
labels, and fed to the pure :func:`rules.simulate`. The whole run happens inside
one ``AsyncSession.run_sync`` call, so the pure engine's plain loop pulls rows
straight from the cursor: nothing is held in memory but the running tallies and
the per-person histories.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import day_start, local_day
from points.db import among, utcnow
from points.events.models import ActivityEvent, EventStatus
from points.org.models import Employee

# The scorer's own department labels, so scopes match exactly as they did live.
from points.org.service import department_labels
from points.workdays.service import with_workdays

__all__ = [
    "CHUNK",
    "Person",
    "Window",
    "department_labels",
    "people",
    "plain_iteration",
    "simulate_stored",
    "stored_events",
    "window_for",
]
from rules import CompiledRuleset, Event, SimulationReport, simulate

CHUNK = 10_000
NO_DEPARTMENT = "(无部门)"


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[since, until)``."""

    since: datetime
    until: datetime

    def label(self, zone: tzinfo) -> str:
        """``2026-10-01 – 2026-10-31`` in local dates (``until`` is exclusive)."""
        first = local_day(self.since, zone)
        last = local_day(self.until - timedelta(microseconds=1), zone)
        return f"{first.isoformat()} – {last.isoformat()}"


def window_for(
    zone: tzinfo,
    *,
    since: date | None = None,
    until: date | None = None,
    days: int = 30,
    now: datetime | None = None,
) -> Window:
    """Local dates to a window: ``since`` from its start, ``until`` to its end (inclusive).

    Without dates: the last ``days`` days up to now.
    """
    now = now or utcnow()
    end = day_start(until + timedelta(days=1), zone) if until else now
    start = day_start(since, zone) if since else end - timedelta(days=days)
    if start >= end:
        from points.errors import InvalidInput
        from points.i18n import _

        raise InvalidInput(_("The start of the window must be before its end."))
    return Window(start, end)


@dataclass(frozen=True)
class Person:
    """What simulation needs to know about an employee."""

    userid: str
    department_id: int
    excluded: bool
    joined: date | None = None


async def people(session: AsyncSession) -> dict[int, Person]:
    """Every employee by id (back-apply needs them all; simulation loads its own)."""
    rows = await session.exec(
        select(  # type: ignore[call-overload]
            Employee.id,
            Employee.userid,
            Employee.department_id,
            Employee.excluded,
            Employee.joined_on,
        )
    )
    return {i: Person(u, d, bool(x), j) for i, u, d, x, j in rows.all()}


def _add_people(session: Session, staff: dict[int, Person], ids: set[int]) -> None:
    """Load the people of one chunk of events that ``staff`` does not know yet.

    A simulation meets only the people with events in its window; loading them as
    they appear keeps it from reading a 100,000-person table on every run.
    """
    postgres = session.connection().dialect.name == "postgresql"
    rows = session.execute(
        select(
            col(Employee.id),
            col(Employee.userid),
            col(Employee.department_id),
            col(Employee.excluded),
            col(Employee.joined_on),
        ).where(among(col(Employee.id), sorted(ids), postgres))
    )
    for employee_id, userid, department_id, excluded, joined in rows.all():
        staff[int(employee_id or 0)] = Person(userid, department_id, bool(excluded), joined)


def stored_events(
    session: Session,
    window: Window,
    staff: dict[int, Person],
    labels: dict[int, tuple[str, ...]],
    chunk: int = CHUNK,
) -> Iterator[tuple[int, int, Event]]:
    """Scored events in the window, oldest first, as ``(employee id, event id, engine event)``.

    Synchronous on purpose: it runs inside ``run_sync`` and streams with
    ``yield_per``, so a million rows never sit in memory at once; the people of
    each chunk missing from ``staff`` are added to it as they appear. Events of
    excluded people (bots, admins) are left out — they never earned anything.
    """
    for rows in _partitions(session, window, chunk):
        unknown = {row[1] for row in rows if row[1] not in staff}
        if unknown:
            _add_people(session, staff, unknown)
        for event_id, employee_id, external_id, type_, occurred_at, attributes in rows:
            person = staff.get(employee_id)
            if person is None or person.excluded:
                continue
            yield (
                employee_id,
                event_id,
                Event(
                    external_id,
                    type_,
                    person.userid,
                    occurred_at,
                    attributes,
                    labels.get(person.department_id, ()),
                    person.joined,
                ),
            )


async def simulate_stored(
    session: AsyncSession,
    candidate: CompiledRuleset,
    active: CompiledRuleset,
    window: Window,
    zone: tzinfo,
    chunk: int = CHUNK,
) -> SimulationReport:
    """Run ``candidate`` against ``active`` over the stored scored events of ``window``.

    Both rule sets start with a clean history at the window's start, so the
    comparison is like for like. People are reported by userid and counted in
    their own department (by name).
    """
    staff: dict[int, Person] = {}  # filled chunk by chunk with the people who appear
    labels = await department_labels(session)
    # Working-day streaks count in the company calendar, as live scoring does.
    candidate = await with_workdays(session, candidate)
    active = await with_workdays(session, active)

    def own_department(event: Event) -> str:
        return event.departments[0] if event.departments else NO_DEPARTMENT

    def run(sync_session: Session) -> SimulationReport:
        events = (
            event for _e, _i, event in stored_events(sync_session, window, staff, labels, chunk)
        )
        return simulate(events, active, candidate, zone, department_of=own_department)

    return await session.run_sync(run)


# The same query as _event_rows, for asyncpg's own cursor (see _partitions).
_EVENTS_SQL = (
    "SELECT id, employee_id, external_id, type, occurred_at, attributes FROM activity_event"
    " WHERE status = 'scored' AND employee_id IS NOT NULL"
    " AND occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, id"
)


def _partitions(session: Session, window: Window, chunk: int) -> Iterator[Sequence[Any]]:
    """The window's event rows, ``chunk`` at a time, through a server-side cursor.

    On PostgreSQL asyncpg's cursor is driven directly (``await_only`` works here
    because this runs inside ``run_sync``'s greenlet): it reads rows about three
    times faster than SQLAlchemy's streaming adapter, which is most of a
    million-event simulation's time. Elsewhere (SQLite) SQLAlchemy streams.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "asyncpg":
        yield from session.execute(_event_rows(window, chunk)).partitions()
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # asyncpg cursors live in a transaction; SQLAlchemy opens it on first use.
        connection.execute(text("SELECT 1"))
    cursor = await_only(driver.cursor(_EVENTS_SQL, window.since, window.until))
    while True:
        rows = await_only(cursor.fetch(chunk))
        if not rows:
            return
        yield rows


def _event_rows(window: Window, chunk: int) -> Any:
    """The stored scored events of a window, oldest first, streamed ``chunk`` rows at a time."""
    return (
        select(
            col(ActivityEvent.id),
            col(ActivityEvent.employee_id),
            col(ActivityEvent.external_id),
            col(ActivityEvent.type),
            col(ActivityEvent.occurred_at),
            col(ActivityEvent.attributes),
        )
        .where(
            col(ActivityEvent.status) == EventStatus.scored.value,
            col(ActivityEvent.employee_id).is_not(None),
            col(ActivityEvent.occurred_at) >= window.since,
            col(ActivityEvent.occurred_at) < window.until,
        )
        .order_by(col(ActivityEvent.occurred_at), col(ActivityEvent.id))
        .execution_options(yield_per=chunk)
    )


def plain_iteration(session: Session, window: Window, chunk: int = CHUNK) -> int:
    """Read the same rows as a simulation does, without evaluating (the bench baseline)."""
    count = 0
    for rows in _partitions(session, window, chunk):
        for _row in rows:
            count += 1
    return count
