"""WeCom jobs: completing callbacks, pull connectors, contacts sync, app messages.

Every job is safe to run twice: events are keyed (source ``"wecom"`` plus the
object's external id), contacts sync converges, digests are one per person and day.
Each pull connector records its last successful window in ``wecom_connector`` and
resumes from there after a failure. In production arq runs them on a schedule
(points/jobs/schedule.py); the embedded default runs ``points wecom pull``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from points.calendar import day_start, local_day
from points.db import utcnow
from points.events.schemas import EventIn
from points.events.service import MAX_BATCH, ingest
from points.jobs import InlineQueue, JobContext, commit, job, job_function
from points.ledger.service import insert_for
from points.org.models import Employee, EmployeeStatus
from points.wecom.callback import detail_request_from_dict
from points.wecom.client import WeComClient, WeComError
from points.wecom.config import (
    CONTACT_CHANGES_JOB,
    FETCH_DETAILS_JOB,
    SOURCE,
    api_ready,
    open_client,
)
from points.wecom.connectors import connector_state, record_failure, record_success
from points.wecom.contacts import SuspiciousSync, apply_leaver, sync_contacts
from points.wecom.messages import digest_day, queue_daily_digests, send_outbox
from points.wecom.models import BehaviorDay, ConnectorState
from points.wecom.policy import load_policy
from points.wecom.pull import pull_approvals, pull_checkins, resolve_detail_requests

log = logging.getLogger(__name__)

#: Approvals change status after they are applied for, and the list API filters by
#: application time: each run looks this far behind the last window again.
APPROVAL_LOOKBACK = timedelta(days=3)
#: After a long outage, catch up at most this far back.
MAX_CATCH_UP = timedelta(days=90)
DAY_WINDOW_MAX = timedelta(days=30)

#: Job name per connector (``points wecom pull --connector NAME``).
CONNECTOR_JOBS = {
    "approvals": "wecom_pull_approvals",
    "checkins": "wecom_pull_checkins",
    "contacts": "wecom_sync_contacts",
    "behavior": "wecom_pull_behavior",
}

#: When arq runs what (the worker's time zone is POINTS_TIMEZONE).
Window = tuple[datetime, datetime]
RunResult = tuple[Window | None, dict[str, Any]]
Work = Callable[[WeComClient, ConnectorState, datetime], Awaitable[RunResult]]


async def run_connector_job(queue: InlineQueue, name: str) -> Any:
    """Run a connector job in this process (``points wecom pull``, tests)."""
    return await job_function(name)(JobContext(queue.settings, queue.db, queue))


def _problem(exc: BaseException) -> str:
    """A message for the admin page: WeCom errors carry their own hint."""
    if isinstance(exc, WeComError | SuspiciousSync):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def run_connector(ctx: JobContext, name: str, work: Work) -> dict[str, Any]:
    """Run one connector and record the outcome; re-raise failures for the queue."""
    if not api_ready(ctx.settings):
        return {"skipped": "WeCom is not configured"}
    now = utcnow()
    async with ctx.db.session() as session:
        state = await connector_state(session, name)
    try:
        async with open_client(ctx.settings) as client:
            window, result = await work(client, state, now)
    except Exception as exc:
        log.warning("WeCom connector %s failed: %s", name, _problem(exc))
        async with ctx.db.session() as session:
            await record_failure(session, name, _problem(exc))
            await session.commit()
        raise
    async with ctx.db.session() as session:
        await record_success(session, name, window=window, result=result)
        await session.commit()
    return result


async def _store(ctx: JobContext, events: Sequence[EventIn]) -> dict[str, int]:
    """Ingest under the shared ``wecom`` source in batches; scoring follows each commit."""
    counts = {"created": 0, "duplicate": 0, "conflict": 0}
    for start in range(0, len(events), MAX_BATCH):
        async with ctx.db.session() as session:
            for result in await ingest(session, SOURCE, events[start : start + MAX_BATCH]):
                counts[result.status] += 1
            await commit(session, ctx.queue)
    return counts


async def _active_userids(ctx: JobContext) -> list[str]:
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Employee.userid)
            .where(Employee.status == EmployeeStatus.active, col(Employee.excluded).is_(False))
            .order_by(Employee.userid)
        )
        return list(rows.all())


def _day_window(ctx: JobContext, state: ConnectorState, now: datetime) -> Window | None:
    """Whole local days from the last window's end up to yesterday; None if up to date."""
    zone = ctx.settings.zone
    today = day_start(local_day(now, zone), zone)
    end = today - timedelta(seconds=1)
    start = state.window_end + timedelta(seconds=1) if state.window_end else today - timedelta(1)
    start = max(start, today - DAY_WINDOW_MAX)
    return None if start > end else (start, end)


def _unchanged(state: ConnectorState) -> Window | None:
    if state.window_start is None or state.window_end is None:
        return None
    return state.window_start, state.window_end


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
                if exc.is_config_error or exc.is_rate_limited:
                    raise  # worth a retry later (or an admin's fix), not a skip
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
    """Approvals applied for since the last window (minus a look-back), with cursor paging.

    Recovers callbacks WeCom lost: the same external ids, so nothing is scored twice.
    """

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> tuple[Window | None, dict[str, Any]]:
        start = (state.window_end or now) - APPROVAL_LOOKBACK
        start = max(start, now - MAX_CATCH_UP)
        async with ctx.db.session() as session:
            policy = await load_policy(session)
        pulled = await pull_approvals(client, start, now, policy)
        counts = await _store(ctx, pulled.events)
        failures = dict(list(pulled.failures.items())[:20])
        return (start, now), {"events": len(pulled.events), **counts, "failures": failures}

    return await run_connector(ctx, "approvals", work)


@job(CONNECTOR_JOBS["checkins"])
async def pull_checkins_job(ctx: JobContext) -> dict[str, Any]:
    """Check-ins of whole days since the last window (daily)."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> tuple[Window | None, dict[str, Any]]:
        window = _day_window(ctx, state, now)
        userids = await _active_userids(ctx)
        if window is None or not userids:
            return _unchanged(state), {"skipped": "up to date"}
        events = await pull_checkins(client, window[0], window[1], userids)
        return window, {"events": len(events), **await _store(ctx, events)}

    return await run_connector(ctx, "checkins", work)


@job(CONNECTOR_JOBS["contacts"])
async def sync_contacts_job(ctx: JobContext) -> dict[str, Any]:
    """Departments and members from WeCom; new hires, moves and leavers follow."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> tuple[Window | None, dict[str, Any]]:
        async with ctx.db.session() as session:
            summary = await sync_contacts(session, ctx.settings, client)
            await commit(session, ctx.queue)
        return (state.window_end or now, now), summary.to_dict()

    return await run_connector(ctx, "contacts", work)


@job(CONNECTOR_JOBS["behavior"])
async def pull_behavior_job(ctx: JobContext) -> dict[str, Any]:
    """Per-person daily customer-contact figures for the dashboards (no points)."""

    async def work(
        client: WeComClient, state: ConnectorState, now: datetime
    ) -> tuple[Window | None, dict[str, Any]]:
        window = _day_window(ctx, state, now)
        userids = await _active_userids(ctx)
        if window is None or not userids:
            return _unchanged(state), {"skipped": "up to date"}
        rows: list[dict[str, Any]] = []
        failures: dict[str, str] = {}
        for userid in userids:
            try:
                data = await client.get_user_behavior_data([userid], window[0], window[1])
            except WeComError as exc:
                if exc.is_config_error or exc.is_rate_limited:
                    raise
                failures[userid] = f"errcode {exc.errcode}"  # e.g. no customer-contact licence
                continue
            for item in data.get(userid, []):
                day = datetime.fromtimestamp(int(item["stat_time"]), ctx.settings.zone).date()
                rows.append(_behavior_row(userid, day, item))
        async with ctx.db.session() as session:
            for row in rows:
                stmt = insert_for(session, BehaviorDay).values(**row)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["userid", "day"],
                    set_={k: v for k, v in row.items() if k not in ("userid", "day")},
                )
                await session.exec(stmt)
            await session.commit()
        return window, {"rows": len(rows), "failures": dict(list(failures.items())[:20])}

    return await run_connector(ctx, "behavior", work)


def _behavior_row(userid: str, day: date, item: dict[str, Any]) -> dict[str, Any]:
    def number(key: str) -> int:
        try:
            return int(item.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    return {
        "userid": userid,
        "day": day,
        "chat_cnt": number("chat_cnt"),
        "message_cnt": number("message_cnt"),
        "new_apply_cnt": number("new_apply_cnt"),
        "new_contact_cnt": number("new_contact_cnt"),
        "negative_feedback_cnt": number("negative_feedback_cnt"),
        "fetched_at": utcnow(),
    }


# -- app messages -------------------------------------------------------------------------


@job("wecom_send_outbox")
async def send_outbox_job(ctx: JobContext) -> dict[str, Any]:
    """Send waiting notifications as WeCom app messages."""
    if not api_ready(ctx.settings) or not ctx.settings.WECOM_AGENT_ID:
        return {"skipped": "WeCom is not configured"}
    async with open_client(ctx.settings) as client:
        summary = await send_outbox(ctx.db, ctx.settings, client)
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
