"""WeCom jobs: completing callbacks, pull connectors, contacts sync, app messages.

Every job is safe to run twice: events are keyed (source ``"wecom"`` plus the
object's external id), contacts sync converges, digests are one per person and day.
Each pull connector keeps its cursor in ``wecom_connector``, moved only with the
records it covers (:mod:`points.wecom.runs`), and resumes from there after a
failure or a rate limit. In production arq runs them on a schedule
(points/jobs/schedule.py); the embedded default runs ``points wecom pull``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.events.schemas import EventIn
from points.events.service import MAX_BATCH, ingest
from points.jobs import InlineQueue, JobContext, commit, job, job_function
from points.wecom import meetings, runs
from points.wecom.callback import detail_request_from_dict
from points.wecom.client import WeComClient, WeComError
from points.wecom.config import (
    CONTACT_CHANGES_JOB,
    FETCH_DETAILS_JOB,
    SOURCE,
    api_ready,
    open_client,
)
from points.wecom.connectors import (
    connector_state,
    record_failure,
    record_success,
    record_throttled,
    save_progress,
    warn_if_lagging,
)
from points.wecom.contacts import SuspiciousSync, apply_leaver, sync_contacts
from points.wecom.messages import digest_day, queue_daily_digests, send_outbox
from points.wecom.models import ConnectorState
from points.wecom.policy import load_policy
from points.wecom.pull import resolve_detail_requests

log = logging.getLogger(__name__)

#: Job name per connector (``points wecom pull --connector NAME``).
CONNECTOR_JOBS = {
    "approvals": "wecom_pull_approvals",
    "checkins": "wecom_pull_checkins",
    "contacts": "wecom_sync_contacts",
    "behavior": "wecom_pull_behavior",
    "meetings": "wecom_pull_meetings",
}

Work = Callable[[WeComClient, ConnectorState, datetime], Awaitable[dict[str, Any] | None]]


async def run_connector_job(queue: InlineQueue, name: str) -> Any:
    """Run a connector job in this process (``points wecom pull``, tests)."""
    return await job_function(name)(JobContext(queue.settings, queue.db, queue, queue.clock))


def _problem(exc: BaseException) -> str:
    """A message for the admin page: WeCom errors carry their own hint."""
    if isinstance(exc, WeComError | SuspiciousSync):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def run_connector(ctx: JobContext, name: str, work: Work) -> dict[str, Any]:
    """Run one connector and record how it ended.

    - a rate limit pauses the connector (growing, capped, jittered) and reschedules
      the job for when the pause ends; the run reads as throttled, not failed;
    - a configuration error (untrusted IP, bad secret, …) stops at once and says so:
      retrying cannot help until an admin fixes it, so the job is not retried;
    - anything else is a failure, raised so the queue retries the job with backoff.

    In every case the cursor stays where the stored data stops.
    """
    if not api_ready(ctx.settings):
        return {"skipped": "WeCom is not configured"}
    now = ctx.clock()
    async with ctx.db.session() as session:
        state = await connector_state(session, name)
    if state.backoff_until is not None and state.backoff_until > now:
        return {"throttled": True, "resume_at": state.backoff_until.isoformat()}
    try:
        async with open_client(ctx.settings) as client:
            result = await work(client, state, now)
    except WeComError as exc:
        async with ctx.db.session() as session:
            outcome = await _record_stop(ctx, session, name, exc, now)
            await session.commit()
        if outcome.get("resume_in") is not None:
            await ctx.queue.enqueue_in(float(outcome.pop("resume_in")), CONNECTOR_JOBS[name])
        if outcome.get("status") == "failed":
            raise
        return outcome
    except Exception as exc:
        log.warning("WeCom connector %s failed: %s", name, _problem(exc))
        async with ctx.db.session() as session:
            await record_failure(session, name, _problem(exc), now=now)
            await warn_if_lagging(session, ctx.settings, name, now=now)
            await session.commit()
        raise
    async with ctx.db.session() as session:
        if result is None:
            result = {"skipped": "up to date"}
        await record_success(session, name, now=now, result=result)
        await warn_if_lagging(session, ctx.settings, name, now=now)
        await session.commit()
    return result


async def _record_stop(
    ctx: JobContext, session: AsyncSession, name: str, exc: WeComError, now: datetime
) -> dict[str, Any]:
    """Record a run WeCom stopped; says whether to resume later or raise."""
    problem = _problem(exc)
    outcome: dict[str, Any]
    if exc.is_rate_limited:
        until = await record_throttled(
            session, name, now=now, error=problem, result={"throttled": True}
        )
        log.info("WeCom connector %s throttled (%s); resumes at %s", name, exc.errcode, until)
        outcome = {
            "throttled": True,
            "errcode": exc.errcode,
            "resume_at": until.isoformat(),
            "resume_in": (until - now).total_seconds(),
        }
    elif exc.is_config_error:
        log.error("WeCom connector %s stopped: %s", name, problem)
        await record_failure(session, name, problem, now=now, status="misconfigured")
        outcome = {"status": "misconfigured", "error": problem}
    else:
        log.warning("WeCom connector %s failed: %s", name, problem)
        await record_failure(session, name, problem, now=now)
        outcome = {"status": "failed", "error": problem}
    await warn_if_lagging(session, ctx.settings, name, now=now)
    return outcome


async def _store(ctx: JobContext, events: Sequence[EventIn]) -> dict[str, int]:
    """Ingest under the shared ``wecom`` source in batches; scoring follows each commit."""
    counts = {"created": 0, "duplicate": 0, "conflict": 0}
    for start in range(0, len(events), MAX_BATCH):
        async with ctx.db.session() as session:
            for result in await ingest(session, SOURCE, events[start : start + MAX_BATCH]):
                counts[result.status] += 1
            await commit(session, ctx.queue)
    return counts


# -- completing callbacks ------------------------------------------------------------


@job(FETCH_DETAILS_JOB)
async def fetch_details(ctx: JobContext, *, requests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Complete callbacks that lacked data (approval forms, customer tags, chat owners)."""
    if not api_ready(ctx.settings):
        return {"skipped": "WeCom is not configured"}
    async with ctx.db.session() as session:
        policy = await load_policy(session)
    events: list[EventIn] = []
    failures: dict[str, str] = {}
    async with open_client(ctx.settings) as client:
        for data in requests:
            request = detail_request_from_dict(dict(data))
            try:
                events.extend(await resolve_detail_requests(client, [request], policy))
            except WeComError as exc:
                if exc.is_config_error:
                    # Retrying cannot help until an admin fixes it; the approvals
                    # connector reconciles what this job would have completed.
                    log.error("WeCom details not fetched: %s", exc)
                    counts = await _store(ctx, events)
                    return {**counts, "failures": failures, "error": str(exc)}
                if exc.stops_the_run:
                    raise  # a rate limit or an outage: the queue retries with backoff
                failures[request.key] = f"errcode {exc.errcode}"
    counts = await _store(ctx, events)
    return {**counts, "failures": failures}


@job(CONTACT_CHANGES_JOB)
async def apply_contact_changes(
    ctx: JobContext, *, changes: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Apply ``change_contact`` callbacks: leavers now, everything else by a contacts sync."""
    left: list[str] = []
    needs_sync = False
    async with ctx.db.session() as session:
        for change in changes:
            if change.get("change_type") == "delete_user" and change.get("userid"):
                on = datetime.fromisoformat(change["occurred_at"]).astimezone(ctx.settings.zone)
                if await apply_leaver(
                    session,
                    ctx.settings,
                    str(change["userid"]),
                    on=on.date(),
                    reason="deleted in WeCom",
                ):
                    left.append(str(change["userid"]))
            else:
                needs_sync = True
        await commit(session, ctx.queue)
    if needs_sync and api_ready(ctx.settings):
        await ctx.queue.enqueue(CONNECTOR_JOBS["contacts"])
    return {"left": left, "sync": needs_sync}


# -- pull connectors ---------------------------------------------------------------------


@job(CONNECTOR_JOBS["approvals"])
async def pull_approvals_job(ctx: JobContext) -> dict[str, Any]:
    """Approvals applied for since the stored window (minus a look-back), chunk by chunk.

    Recovers callbacks WeCom lost: the same external ids, so nothing is scored twice.
    """

    async def work(client: WeComClient, state: ConnectorState, now: datetime) -> dict[str, Any]:
        return await runs.pull_approvals(ctx, client, state, now)

    return await run_connector(ctx, "approvals", work)


@job(CONNECTOR_JOBS["checkins"])
async def pull_checkins_job(ctx: JobContext) -> dict[str, Any]:
    """Check-ins of every whole day not stored yet (daily; catches up after outages)."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> dict[str, Any] | None:
        return await runs.pull_checkins(ctx, client, state, now)

    return await run_connector(ctx, "checkins", work)


@job(CONNECTOR_JOBS["contacts"])
async def sync_contacts_job(ctx: JobContext) -> dict[str, Any]:
    """Departments and members from WeCom; new hires, moves and leavers follow."""

    async def work(client: WeComClient, state: ConnectorState, now: datetime) -> dict[str, Any]:
        async with ctx.db.session() as session:
            summary = await sync_contacts(session, ctx.settings, client)
            await save_progress(session, "contacts", window_end=now)
            await commit(session, ctx.queue)
        return summary.to_dict()

    return await run_connector(ctx, "contacts", work)


@job(CONNECTOR_JOBS["behavior"])
async def pull_behavior_job(ctx: JobContext) -> dict[str, Any]:
    """Per-person daily customer-contact figures, and an event per day with activity."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> dict[str, Any] | None:
        return await runs.pull_behavior(ctx, client, state, now)

    return await run_connector(ctx, "behavior", work)


@job(CONNECTOR_JOBS["meetings"])
async def pull_meetings_job(ctx: JobContext) -> dict[str, Any]:
    """Meetings booked through this app that ended: organisers and attendees (nightly)."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> dict[str, Any] | None:
        return await meetings.pull_meetings(ctx, client, state, now)

    return await run_connector(ctx, "meetings", work)


# -- app messages -------------------------------------------------------------------------


@job("wecom_send_outbox")
async def send_outbox_job(ctx: JobContext) -> dict[str, Any]:
    """Send waiting notifications as WeCom app messages."""
    if not api_ready(ctx.settings) or not ctx.settings.WECOM_AGENT_ID:
        return {"skipped": "WeCom is not configured"}
    async with open_client(ctx.settings) as client:
        summary = await send_outbox(ctx.db, ctx.settings, client, now=ctx.clock())
    if summary.stopped:
        # Not raised: a retry cannot fix a configuration error or outrun a rate limit;
        # the messages stay queued for the next scheduled run.
        log.warning("WeCom outbox stopped: %s", summary.stopped)
    return summary.to_dict()


@job("wecom_daily_digest")
async def daily_digest_job(ctx: JobContext, *, day: str | None = None) -> dict[str, Any]:
    """Queue today's digest for everyone who earned points, then send the outbox."""
    chosen = date.fromisoformat(day) if day else digest_day(utcnow(), ctx.settings)
    async with ctx.db.session() as session:
        queued = await queue_daily_digests(session, ctx.settings, chosen)
        await session.commit()
    sent = await send_outbox_job(ctx)
    return {"day": chosen.isoformat(), "queued": queued, **sent}
