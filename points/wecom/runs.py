"""Connector runs: fetch from WeCom chunk by chunk, store each chunk's records and
move the connector's cursor in the same transaction.

However long the outage, a run catches up chunk by chunk (≤31 days of approvals,
≤30 days of check-ins and behaviour data) until it reaches now minus the
connector's safety margin. Inside a chunk the cursor is exact: WeCom's list cursor
and the approvals still to fetch, or the next user of the batch. A run stopped by a
rate limit, an outage or a crash resumes there; records already stored are keyed,
so nothing is lost and nothing is scored twice. Records that cannot be used are
quarantined one by one (:func:`points.wecom.connectors.quarantine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import day_start, local_day
from points.db import insert_for
from points.events.schemas import EventIn
from points.events.service import MAX_BATCH, ingest
from points.jobs import JobContext, commit
from points.org.models import Employee, EmployeeStatus
from points.wecom.approvals import ApprovalPolicy, events_from_approval_detail
from points.wecom.client import APPROVAL_WINDOW, MAX_USERS_PER_CALL, WeComClient
from points.wecom.config import SOURCE
from points.wecom.connectors import SAFETY_MARGIN, quarantine, save_progress
from points.wecom.errors import RepeatedCursor, WeComError
from points.wecom.fields import Rejected
from points.wecom.mapping import behavior_events, sort_checkins
from points.wecom.models import BehaviorDay, ConnectorState
from points.wecom.policy import load_policy

#: Approvals change status after they are applied for, and the list API filters by
#: application time: each fresh run looks this far behind the stored window again.
APPROVAL_LOOKBACK = timedelta(days=3)
DAY_CHUNK = timedelta(days=30)
#: Approval details fetched between two saves of the cursor.
DETAILS_PER_SAVE = 20
SECOND = timedelta(seconds=1)


@dataclass
class Tally:
    """What one run did, for ``last_result`` and the admin page."""

    created: int = 0
    duplicate: int = 0
    conflict: int = 0
    events: int = 0
    rows: int = 0
    skipped: int = 0
    chunks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the reasons of skipped records, most frequent first."""
        data: dict[str, Any] = {
            "events": self.events,
            "created": self.created,
            "duplicate": self.duplicate,
            "conflict": self.conflict,
            "skipped": self.skipped,
            "chunks": self.chunks,
        }
        if self.rows:
            data["rows"] = self.rows
        if self.reasons:
            data["skipped_reasons"] = dict(sorted(self.reasons.items(), key=lambda kv: -kv[1]))
        return data


async def store_chunk(
    ctx: JobContext,
    name: str,
    tally: Tally,
    *,
    events: Sequence[EventIn] = (),
    rejected: Sequence[Rejected] = (),
    window_end: datetime | None = None,
    position: dict[str, Any] | None = None,
) -> None:
    """Store events and quarantined records, then move the cursor: one transaction."""
    events = list(events)
    async with ctx.db.session() as session:
        for start in range(0, len(events), MAX_BATCH):
            for result in await ingest(session, SOURCE, events[start : start + MAX_BATCH]):
                setattr(tally, result.status, getattr(tally, result.status) + 1)
        await _quarantine_all(session, name, rejected, ctx.clock(), tally)
        await save_progress(session, name, window_end=window_end, position=position)
        await commit(session, ctx.queue)  # scoring follows the commit
    tally.events += len(events)


async def _quarantine_all(
    session: AsyncSession, name: str, rejected: Sequence[Rejected], now: datetime, tally: Tally
) -> None:
    for item in rejected:
        await quarantine(session, name, item.raw, item.reason, now=now)
        tally.skipped += 1
        tally.reasons[item.reason] = tally.reasons.get(item.reason, 0) + 1


async def active_userids(ctx: JobContext) -> list[str]:
    """Userids of the people whose WeCom data is pulled (sorted: batches resume by id)."""
    async with ctx.db.session() as session:
        rows = await session.exec(
            select(Employee.userid)
            .where(Employee.status == EmployeeStatus.active, col(Employee.excluded).is_(False))
            .order_by(Employee.userid)
        )
        return list(rows.all())


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _at(seconds: int, ctx: JobContext) -> datetime:
    return datetime.fromtimestamp(seconds, ctx.settings.zone)


def _earliest(ctx: JobContext) -> int:
    return _ts(day_start(ctx.settings.WECOM_EARLIEST_DATE, ctx.settings.zone))


# -- approvals ------------------------------------------------------------------------


async def pull_approvals(
    ctx: JobContext, client: WeComClient, state: ConnectorState, now: datetime
) -> dict[str, Any]:
    """Every approval applied for up to now minus the margin, chunk by chunk."""
    name = "approvals"
    tally = Tally()
    target = now - SAFETY_MARGIN[name]
    async with ctx.db.session() as session:
        policy = await load_policy(session)
    position = dict(state.position or {})
    if "lo" in position:
        # Finish the chunk an earlier run was stopped in, exactly where it stopped.
        await _approval_chunk(ctx, client, policy, position, tally)
        start = int(position["hi"]) + 1
    elif state.window_end is not None:
        start = _ts(state.window_end - APPROVAL_LOOKBACK)
    else:
        start = _ts(target - APPROVAL_LOOKBACK)
    start = max(start, _earliest(ctx))
    end = _ts(target)
    while start <= end:
        hi = min(end, start + APPROVAL_WINDOW)
        await _approval_chunk(ctx, client, policy, {"lo": start, "hi": hi}, tally)
        start = hi + 1
    return tally.to_dict()


async def _approval_chunk(
    ctx: JobContext,
    client: WeComClient,
    policy: ApprovalPolicy,
    position: dict[str, Any],
    tally: Tally,
) -> None:
    lo, hi = int(position["lo"]), int(position["hi"])
    pending: list[str] = list(position.get("pending") or [])
    cursor = str(position.get("cursor") or "")
    cursors: list[str] = list(position.get("cursors") or [])
    listed = bool(position.get("listed"))

    def where() -> dict[str, Any]:
        return {
            "lo": lo,
            "hi": hi,
            "cursor": cursor,
            "cursors": cursors,
            "listed": listed,
            "pending": pending,
        }

    try:
        while not listed:
            sp_nos, following = await client.approval_page(lo, hi, cursor)
            pending.extend(sp for sp in sp_nos if sp not in pending)
            if not following:
                listed = True
            elif following in cursors or following == cursor:
                raise RepeatedCursor("/cgi-bin/oa/getapprovalinfo")
            else:
                if cursor:
                    cursors.append(cursor)
                cursor = following
    except RepeatedCursor:
        # The cursor WeCom repeated is not worth resuming from: list the chunk afresh.
        cursor, cursors = "", []
        await store_chunk(ctx, "approvals", tally, position=where())
        raise
    except WeComError:
        await store_chunk(ctx, "approvals", tally, position=where())
        raise
    events: list[EventIn] = []
    rejected: list[Rejected] = []
    earliest = _earliest(ctx)
    while pending:
        sp_no = pending[0]
        try:
            detail = await client.get_approval_detail(sp_no)
        except WeComError as exc:
            if exc.stops_the_run:
                await store_chunk(
                    ctx, "approvals", tally, events=events, rejected=rejected, position=where()
                )
                raise
            detail = None
            rejected.append(
                Rejected(
                    {"sp_no": sp_no, "errcode": exc.errcode, "errmsg": exc.errmsg},
                    f"errcode {exc.errcode}",
                )
            )
        if detail is not None:
            try:
                if 0 < int(detail.get("apply_time") or 0) < earliest:
                    raise ValueError("apply_time before the earliest date")
                events.extend(events_from_approval_detail(detail, policy))
            except (ValueError, TypeError, AttributeError) as exc:
                rejected.append(Rejected(detail, _reason(exc)))
        pending.pop(0)
        if len(events) + len(rejected) >= DETAILS_PER_SAVE:
            await store_chunk(
                ctx, "approvals", tally, events=events, rejected=rejected, position=where()
            )
            events, rejected = [], []
    tally.chunks += 1
    await store_chunk(
        ctx,
        "approvals",
        tally,
        events=events,
        rejected=rejected,
        window_end=_at(hi, ctx),
        position={},
    )


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, ValueError) and "apply_time" in text:
        return "impossible apply_time"
    if isinstance(exc, ValueError) and "applicant" in text:
        return "missing applicant"
    if isinstance(exc, ValueError) and "sp_no" in text:
        return "missing sp_no"
    return f"unmappable: {type(exc).__name__}"


# -- whole days: check-ins and behaviour ----------------------------------------------


def day_chunks(
    ctx: JobContext, state: ConnectorState, now: datetime, margin: timedelta
) -> list[tuple[int, int]]:
    """Whole local days not stored yet, up to the last day that ended before
    ``now - margin``, in chunks of at most 30 days (the first run fetches yesterday).
    """
    zone = ctx.settings.zone
    end = day_start(local_day(now - margin, zone), zone) - SECOND
    if state.window_end is not None:
        start = state.window_end + SECOND
    else:
        start = day_start(local_day(end, zone), zone)
    start = max(start, day_start(ctx.settings.WECOM_EARLIEST_DATE, zone))
    chunks: list[tuple[int, int]] = []
    while start <= end:
        hi = min(end, start + DAY_CHUNK - SECOND)
        chunks.append((_ts(start), _ts(hi)))
        start = hi + SECOND
    return chunks


Chunk = tuple[int, int]


def _resume(state: ConnectorState, chunks: list[Chunk]) -> tuple[list[Chunk], str]:
    """Put the chunk an earlier run stopped in first, with the user to resume from."""
    position = state.position or {}
    if "lo" not in position:
        return chunks, ""
    stopped = (int(position["lo"]), int(position["hi"]))
    rest = [c for c in chunks if c[0] > stopped[1]]
    return [stopped, *rest], str(position.get("next_user") or "")


async def pull_checkins(
    ctx: JobContext, client: WeComClient, state: ConnectorState, now: datetime
) -> dict[str, Any] | None:
    """Check-ins of every whole day not stored yet; None when up to date."""
    name = "checkins"
    chunks, next_user = _resume(state, day_chunks(ctx, state, now, SAFETY_MARGIN[name]))
    userids = await active_userids(ctx)
    if not chunks or not userids:
        return None
    tally = Tally()
    earliest = _earliest(ctx)
    for lo, hi in chunks:
        todo = [u for u in userids if u >= next_user]
        next_user = ""
        for start in range(0, len(todo), MAX_USERS_PER_CALL):
            batch = todo[start : start + MAX_USERS_PER_CALL]
            records = await client.checkin_batch(lo, hi, batch)
            checked = sort_checkins(records, earliest=earliest)
            following = todo[start + MAX_USERS_PER_CALL : start + MAX_USERS_PER_CALL + 1]
            position = {"lo": lo, "hi": hi, "next_user": following[0]} if following else {}
            await store_chunk(
                ctx,
                name,
                tally,
                events=checked.events,
                rejected=checked.rejected,
                window_end=None if following else _at(hi, ctx),
                position=position,
            )
        tally.chunks += 1
    return tally.to_dict()


async def pull_behavior(
    ctx: JobContext, client: WeComClient, state: ConnectorState, now: datetime
) -> dict[str, Any] | None:
    """Per-person daily customer-contact figures for every day not stored yet: kept
    for the dashboards and, for days with customer activity, a ``customer.contact_day``
    event (scored like any other, keyed per person and day)."""
    name = "behavior"
    chunks, next_user = _resume(state, day_chunks(ctx, state, now, SAFETY_MARGIN[name]))
    userids = await active_userids(ctx)
    if not chunks or not userids:
        return None
    tally = Tally()
    failures: dict[str, str] = {}
    earliest = _earliest(ctx)
    for lo, hi in chunks:
        todo = [u for u in userids if u >= next_user]
        next_user = ""
        for index, userid in enumerate(todo):
            try:
                data = await client.get_user_behavior_data([userid], lo, hi)
            except WeComError as exc:
                if exc.stops_the_run:
                    raise
                failures[userid] = f"errcode {exc.errcode}"  # e.g. no customer-contact licence
                data = {}
            items = data.get(userid, [])
            rows, rejected = _behavior_rows(ctx, userid, items, earliest)
            events = behavior_events(rows, items, ctx.settings.zone)
            following = todo[index + 1 : index + 2]
            async with ctx.db.session() as session:
                for stored in await ingest(session, SOURCE, events):
                    setattr(tally, stored.status, getattr(tally, stored.status) + 1)
                for row in rows:
                    stmt = insert_for(session, BehaviorDay).values(**row)
                    stmt = stmt.on_conflict_do_update(
                        index_elements=["userid", "day"],
                        set_={k: v for k, v in row.items() if k not in ("userid", "day")},
                    )
                    await session.exec(stmt)
                await _quarantine_all(session, name, rejected, ctx.clock(), tally)
                await save_progress(
                    session,
                    name,
                    window_end=None if following else _at(hi, ctx),
                    position={"lo": lo, "hi": hi, "next_user": following[0]} if following else {},
                )
                await commit(session, ctx.queue)  # scoring follows the commit
            tally.rows += len(rows)
            tally.events += len(events)
        tally.chunks += 1
    result = tally.to_dict()
    result["failures"] = dict(list(failures.items())[:20])
    return result


def _behavior_rows(
    ctx: JobContext, userid: str, items: Any, earliest: int
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    rows: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            rejected.append(Rejected({"userid": userid, "row": item}, "not an object"))
            continue
        try:
            seconds = int(item["stat_time"])
        except (KeyError, TypeError, ValueError):
            rejected.append(Rejected({"userid": userid, **item}, "missing stat_time"))
            continue
        if seconds <= 0 or seconds < earliest:
            rejected.append(Rejected({"userid": userid, **item}, "impossible stat_time"))
            continue
        day = datetime.fromtimestamp(seconds, ctx.settings.zone).date()
        rows.append(behavior_row(userid, day, item, ctx.clock()))
    return rows, rejected


def behavior_row(userid: str, day: date, item: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One ``wecom_behavior_day`` row; counts WeCom left out or garbled are 0."""

    def number(key: str) -> int:
        try:
            return max(0, int(item.get(key) or 0))
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
        "fetched_at": now,
    }
