"""Pull connectors' progress and health: where each one's stored data stops, its
backoff after WeCom's rate limits, the records it quarantined, and how far behind
now it is.

The rule every connector follows: ``window_end`` (and ``position`` inside the chunk
being fetched) only moves in the transaction that stores the records up to it. A
failure, a rate limit or a crash therefore leaves it exactly where the data stops.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for
from points.i18n import _, use_locale
from points.notifications.service import notify
from points.org.models import Employee, EmployeeStatus, Role, RoleAssignment
from points.settings import Settings
from points.wecom.models import ConnectorState, QuarantinedRecord

#: Pull connectors, in the order the admin page lists them.
CONNECTORS = ("approvals", "checkins", "contacts", "behavior", "meetings")
#: Connectors whose progress is a time window (lag = now - window_end); contacts is a
#: full sync (lag = now - last success).
WINDOWED = frozenset({"approvals", "checkins", "behavior", "meetings"})
#: How close to now a window may end. WeCom makes some records visible a little late;
#: a run that finds nothing must not declare the newest minutes done.
SAFETY_MARGIN = {
    "approvals": timedelta(minutes=10),
    "checkins": timedelta(minutes=30),
    "behavior": timedelta(hours=2),
    "meetings": timedelta(hours=1),
    "contacts": timedelta(0),
}
#: The pause after a rate-limit answer: 2, 4, 8 … minutes, at most an hour (WeCom's
#: limits are per minute and per hour and it sends no Retry-After), jittered so that
#: connectors throttled together do not all come back at once.
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=1)
KIND_LAG_WARNING = "wecom.lag"


def backoff_delay(level: int, rng: Callable[[], float] = random.random) -> timedelta:
    """The pause after the ``level``-th rate limit in a row: grows, capped, 75–100 %."""
    grown: timedelta = BACKOFF_BASE * (2 ** min(20, max(0, level - 1)))
    capped: timedelta = min(BACKOFF_CAP, grown)
    return capped * (0.75 + 0.25 * rng())


async def connector_states(session: AsyncSession) -> dict[str, ConnectorState]:
    """Each connector's progress (connectors that never ran are absent)."""
    rows = (
        await session.exec(select(ConnectorState).where(col(ConnectorState.name).in_(CONNECTORS)))
    ).all()
    return {row.name: row for row in rows}


async def connector_state(session: AsyncSession, name: str) -> ConnectorState:
    """The state row of one connector, created empty on first use."""
    state = await session.get(ConnectorState, name)
    return state if state is not None else ConnectorState(name=name)


async def save_progress(
    session: AsyncSession,
    name: str,
    *,
    window_end: datetime | None = None,
    position: dict[str, Any] | None = None,
    window_start: datetime | None = None,
) -> None:
    """Move the connector's cursor; call it in the transaction that stored the records."""
    state = await connector_state(session, name)
    if window_end is not None:
        state.window_end = window_end
        if window_start is not None or state.window_start is None:
            state.window_start = window_start or window_end
    if position is not None:
        state.position = position
    session.add(state)


async def record_success(
    session: AsyncSession,
    name: str,
    *,
    now: datetime,
    result: dict[str, Any],
    window: tuple[datetime, datetime] | None = None,
) -> None:
    """A run that got through: clear the failure streak and the backoff."""
    state = await connector_state(session, name)
    state.last_run_at = now
    state.last_success_at = now
    if window is not None:
        state.window_start, state.window_end = window
    state.last_result = result
    state.runs += 1
    state.failures = 0
    state.status = "ok"
    state.backoff_level = 0
    state.backoff_until = None
    session.add(state)


async def record_throttled(
    session: AsyncSession,
    name: str,
    *,
    now: datetime,
    error: str,
    result: dict[str, Any],
    rng: Callable[[], float] = random.random,
) -> datetime:
    """WeCom's rate limit stopped the run: pause longer each time; returns the resume time."""
    state = await connector_state(session, name)
    state.backoff_level += 1
    until = now + backoff_delay(state.backoff_level, rng)
    state.backoff_until = until
    state.status = "throttled"
    state.last_run_at = now
    state.last_error_at = now
    state.last_error = error[:1000]
    state.last_result = result
    state.runs += 1
    session.add(state)
    return until


async def record_failure(
    session: AsyncSession, name: str, error: str, *, now: datetime, status: str = "failed"
) -> None:
    """A failed run: the cursor stays where the stored data stops."""
    state = await connector_state(session, name)
    state.last_run_at = now
    state.last_error_at = now
    state.last_error = error[:1000]
    state.runs += 1
    state.failures += 1
    state.status = status
    session.add(state)


# -- quarantine ----------------------------------------------------------------------


def _raw_text(raw: Any) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(raw)


async def quarantine(
    session: AsyncSession, connector: str, raw: Any, reason: str, *, now: datetime
) -> None:
    """Keep a record that could not be used, with its raw data, for an admin to see.

    The same record met again (a rerun) is counted, not added twice.
    """
    text = _raw_text(raw)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]
    values = {
        "connector": connector,
        "record_key": key,
        "reason": reason[:200],
        "raw": text[:20_000],
        "first_seen_at": now,
        "last_seen_at": now,
        "times_seen": 1,
    }
    stmt = insert_for(session, QuarantinedRecord).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector", "record_key"],
        set_={
            "last_seen_at": now,
            "reason": values["reason"],
            "times_seen": col(QuarantinedRecord.times_seen) + 1,
        },
    )
    await session.exec(stmt)


async def quarantined(
    session: AsyncSession, *, limit: int = 50, connector: str | None = None
) -> Sequence[QuarantinedRecord]:
    """The most recently seen quarantined records."""
    query = select(QuarantinedRecord)
    if connector is not None:
        query = query.where(QuarantinedRecord.connector == connector)
    query = query.order_by(col(QuarantinedRecord.last_seen_at).desc(), col(QuarantinedRecord.id))
    return (await session.exec(query.limit(limit))).all()


async def quarantined_counts(session: AsyncSession) -> dict[str, int]:
    """Distinct quarantined records per connector."""
    from sqlalchemy import func

    rows = await session.exec(
        select(QuarantinedRecord.connector, func.count()).group_by(col(QuarantinedRecord.connector))
    )
    return {name: int(count) for name, count in rows.all()}


# -- health --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectorHealth:
    """One connector at a glance (admin page, /metrics, lag warnings)."""

    name: str
    status: str
    last_success_at: datetime | None
    #: How far behind now the stored data stops; None before the first success.
    lag: timedelta | None
    #: Records quarantined by this connector (distinct records).
    skipped: int
    backoff_until: datetime | None
    last_error: str | None

    @property
    def lag_hours(self) -> float | None:
        """The lag in hours, one decimal."""
        return None if self.lag is None else round(self.lag.total_seconds() / 3600, 1)

    def backing_off(self, now: datetime) -> bool:
        """True while the connector waits out a rate limit."""
        return self.backoff_until is not None and self.backoff_until > now


def _lag(name: str, state: ConnectorState, now: datetime) -> timedelta | None:
    reference = state.window_end if name in WINDOWED else state.last_success_at
    if reference is None:
        return None
    return max(timedelta(0), now - reference)


async def connector_health(session: AsyncSession, now: datetime) -> list[ConnectorHealth]:
    """Every connector's health, in the admin page's order."""
    states = await connector_states(session)
    counts = await quarantined_counts(session)
    health: list[ConnectorHealth] = []
    for name in CONNECTORS:
        state = states.get(name) or ConnectorState(name=name)
        health.append(
            ConnectorHealth(
                name=name,
                status=state.status or ("" if state.runs == 0 else "ok"),
                last_success_at=state.last_success_at,
                lag=_lag(name, state, now),
                skipped=counts.get(name, 0),
                backoff_until=state.backoff_until,
                last_error=state.last_error if state.status != "ok" else None,
            )
        )
    return health


async def _admin_userids(session: AsyncSession) -> list[str]:
    rows = await session.exec(
        select(Employee.userid)
        .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
        .where(RoleAssignment.role == Role.admin, Employee.status == EmployeeStatus.active)
        .distinct()
    )
    return sorted(rows.all())


async def warn_if_lagging(
    session: AsyncSession, settings: Settings, name: str, *, now: datetime
) -> bool:
    """Tell the admins once when a connector falls more than the setting behind now.

    Warned again only after the connector has caught up in between. Returns True when
    a warning was queued.
    """
    state = await connector_state(session, name)
    lag = _lag(name, state, now)
    limit = timedelta(hours=settings.WECOM_LAG_WARNING_HOURS)
    if lag is None or lag <= limit:
        if state.lag_warned_at is not None:
            state.lag_warned_at = None
            session.add(state)
        return False
    if state.lag_warned_at is not None:
        return False
    hours = round(lag.total_seconds() / 3600)
    for userid in await _admin_userids(session):
        with use_locale(settings.DEFAULT_LOCALE):
            title = _("WeCom connector %(name)s is behind") % {"name": name}
            body = _(
                "The %(name)s connector's data stops %(hours)s hours ago. "
                "See the WeCom connection page."
            ) % {"name": name, "hours": hours}
        notify(
            session,
            userid=userid,
            kind=KIND_LAG_WARNING,
            title=title,
            body=body,
            url="/admin/wecom",
        )
    state.lag_warned_at = now
    session.add(state)
    return True
