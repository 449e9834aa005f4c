"""The callback's product side: per-process receiver state, storing verified events,
handing incomplete ones to jobs, and the callback URL's health row.

Nothing here knows about HTTP: the route in ``web/routes/wecom.py`` calls these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for, utcnow
from points.events.service import IntakeResult, ingest, ingest_one
from points.jobs import enqueue_after_commit
from points.settings import Settings
from points.wecom.config import CONTACT_CHANGES_JOB, FETCH_DETAILS_JOB, SOURCE, make_crypto
from points.wecom.mapping import ApprovalPolicy, CallbackOutcome, ContactChange, DetailRequest
from points.wecom.models import CallbackStatus
from points.wecom.policy import load_policy

#: The callback row is written at most this often per process: under a burst of
#: callbacks a per-request UPDATE of one row would serialise every transaction.
STATUS_EVERY_SECONDS = 1.0
#: How long a process trusts its cached on-time policy (saving it clears the cache).
POLICY_TTL_SECONDS = 30.0


class CallbackReceiver:
    """Per-process state of the callback route: crypto, cached policy, status throttle."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.crypto = make_crypto(settings, clock)
        self._policy: ApprovalPolicy | None = None
        self._policy_loaded = 0.0
        self._status_written = float("-inf")

    async def policy(self, session: AsyncSession) -> ApprovalPolicy:
        """The on-time policy, reloaded at most every :data:`POLICY_TTL_SECONDS`."""
        now = time.monotonic()
        if self._policy is None or now - self._policy_loaded > POLICY_TTL_SECONDS:
            self._policy = await load_policy(session)
            self._policy_loaded = now
        return self._policy

    def forget_policy(self) -> None:
        """Reload the policy on the next callback (HR just changed it)."""
        self._policy = None

    def status_due(self) -> bool:
        """True when this process should write the "last callback" row now."""
        now = time.monotonic()
        if now - self._status_written >= STATUS_EVERY_SECONDS:
            self._status_written = now
            return True
        return False


def detail_request_to_dict(request: DetailRequest) -> dict[str, Any]:
    """A detail request as plain data for a job's arguments."""
    return {
        "kind": request.kind,
        "key": request.key,
        "userid": request.userid,
        "occurred_at": request.occurred_at.isoformat() if request.occurred_at else None,
    }


def detail_request_from_dict(data: dict[str, Any]) -> DetailRequest:
    """The inverse of :func:`detail_request_to_dict`."""
    occurred = data.get("occurred_at")
    return DetailRequest(
        kind=data["kind"],
        key=str(data["key"]),
        userid=str(data.get("userid") or ""),
        occurred_at=datetime.fromisoformat(occurred) if occurred else None,
    )


def contact_change_to_dict(change: ContactChange) -> dict[str, Any]:
    """A contacts change as plain data for a job's arguments (no points, just sync)."""
    return {
        "change_type": change.change_type,
        "userid": change.userid,
        "party_id": change.party_id,
        "occurred_at": change.occurred_at.isoformat(),
    }


async def accept_callback(
    session: AsyncSession, outcome: CallbackOutcome, *, record_status: bool = True
) -> list[IntakeResult]:
    """Store a verified callback's final events; leave the rest to jobs.

    Only ``outcome.events`` are stored. Incomplete events are completed by the
    detail job (storing them now would conflict with the completed payload later);
    contact changes go to the contacts job. Both are enqueued after commit.

    A callback with one event (most of them) is stored by one statement
    (:func:`ingest_one`); the status row, when due, is written first so that the
    statement then joins its transaction and both commit together.
    """
    if record_status:
        await _upsert_status(
            session, last_callback_at=utcnow(), last_callback_event=outcome.event[:64]
        )
    if len(outcome.events) == 1:
        results = [await ingest_one(session, SOURCE, outcome.events[0])]
    else:
        results = await ingest(session, SOURCE, outcome.events) if outcome.events else []
    if outcome.detail_requests:
        enqueue_after_commit(
            session,
            FETCH_DETAILS_JOB,
            requests=[detail_request_to_dict(r) for r in outcome.detail_requests],
        )
    if outcome.contact_changes:
        enqueue_after_commit(
            session,
            CONTACT_CHANGES_JOB,
            changes=[contact_change_to_dict(c) for c in outcome.contact_changes],
        )
    return results


async def record_verification(session: AsyncSession, *, ok: bool, reason: str | None) -> None:
    """Remember the last URL verification and its reason code (never its content)."""
    await _upsert_status(
        session,
        last_verification_at=utcnow(),
        last_verification_ok=ok,
        last_verification_error=None if ok else (reason or "rejected")[:64],
    )


async def _upsert_status(session: AsyncSession, **values: Any) -> None:
    stmt = insert_for(session, CallbackStatus).values(id=1, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=values)
    await session.exec(stmt)


async def callback_status(session: AsyncSession) -> CallbackStatus | None:
    """The callback URL's health, or None before anything arrived."""
    return await session.get(CallbackStatus, 1)
