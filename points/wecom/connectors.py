"""Pull connectors' progress: each connector's window, last run and failure streak."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.wecom.models import ConnectorState

#: Pull connectors, in the order the admin page lists them.
CONNECTORS = ("approvals", "checkins", "contacts", "behavior")


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


async def record_success(
    session: AsyncSession,
    name: str,
    *,
    window: tuple[datetime, datetime] | None,
    result: dict[str, Any],
) -> None:
    """A finished run: advance the window, clear the failure streak."""
    state = await connector_state(session, name)
    now = utcnow()
    state.last_run_at = now
    state.last_success_at = now
    if window is not None:
        state.window_start, state.window_end = window
    state.last_result = result
    state.runs += 1
    state.failures = 0
    session.add(state)


async def record_failure(session: AsyncSession, name: str, error: str) -> None:
    """A failed run: the window stays, so the next run resumes from the last success."""
    state = await connector_state(session, name)
    now = utcnow()
    state.last_run_at = now
    state.last_error_at = now
    state.last_error = error[:1000]
    state.runs += 1
    state.failures += 1
    session.add(state)
