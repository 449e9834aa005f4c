"""The scoring job: runs after intake commits; safe to run twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import col, select, update

from points.db import utcnow
from points.events.models import ActivityEvent, EventStatus
from points.jobs import JobContext, job
from points.ledger.expiry import expire_points
from points.scoring.service import ScoringSummary, score_events

log = logging.getLogger(__name__)

# After this many failed attempts an event is parked for an admin to look at.
MAX_ATTEMPTS = 5
BATCH = 1000
# SQLite has one writer: scoring tasks in one process take turns.
_sqlite_turns = asyncio.Lock()


@job("score_events")
async def score_events_job(ctx: JobContext, *, event_ids: Sequence[int]) -> dict[str, int]:
    """Score a batch; on failure count the attempt, park repeat offenders, and re-raise."""
    total = ScoringSummary()
    for start in range(0, len(event_ids), BATCH):
        chunk = list(event_ids[start : start + BATCH])
        try:
            summary = await _score_in_turn(ctx, chunk)
        except Exception as exc:
            if len(chunk) == 1:
                await _count_failure(ctx, chunk, exc)
                raise
            summary = await _score_one_by_one(ctx, chunk, exc)
        total.events += summary.events
        total.awards += summary.awards
        total.points += summary.points
    return {"events": total.events, "awards": total.awards, "points": total.points}


async def _score_in_turn(ctx: JobContext, event_ids: list[int]) -> ScoringSummary:
    if ctx.db.is_sqlite:
        async with _sqlite_turns:
            return await _score_chunk(ctx, event_ids)
    return await _score_chunk(ctx, event_ids)


async def _score_one_by_one(
    ctx: JobContext, event_ids: list[int], batch_error: Exception
) -> ScoringSummary:
    """A batch failed: score its events singly, so one poison event cannot hold back the rest.

    Events that fail alone while others succeed are poison (bad data, not a bad moment):
    they are parked at once with their error, for an admin to look at and retry. When
    every event fails the cause is the moment (the database went away): the attempts
    are counted and the job raises, to be retried as a whole.
    """
    total = ScoringSummary()
    failed: list[tuple[int, Exception]] = []
    for event_id in event_ids:
        try:
            summary = await _score_in_turn(ctx, [event_id])
        except Exception as single_error:
            failed.append((event_id, single_error))
            continue
        total.events += summary.events
        total.awards += summary.awards
        total.points += summary.points
    transient = [error for _event_id, error in failed if is_transient(error)]
    if len(failed) == len(event_ids) or transient:
        # The moment, not the data: count the attempts of what is left, retry the job.
        await _count_failure(ctx, [event_id for event_id, _error in failed], batch_error)
        raise transient[0] if transient else batch_error
    for event_id, error in failed:
        await _park(ctx, event_id, error)
    return total


def is_transient(error: BaseException) -> bool:
    """A failure of the moment (the database or network went away), not of the event."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(
            seen,
            OSError
            | TimeoutError
            | OperationalError
            | InterfaceError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.exceptions.OperatorInterventionError,
        ) or getattr(seen, "connection_invalidated", False):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def _park(ctx: JobContext, event_id: int, exc: Exception) -> None:
    log.warning("event %d parked: %r", event_id, exc)
    async with ctx.db.session() as session:
        await session.exec(
            update(ActivityEvent)
            .where(
                col(ActivityEvent.id) == event_id,
                col(ActivityEvent.status) == EventStatus.pending,
            )
            .values(
                status=EventStatus.parked.value,
                attempts=ActivityEvent.attempts + 1,
                last_error=repr(exc)[:2000],
            )
        )
        await session.commit()


async def _score_chunk(ctx: JobContext, event_ids: list[int]) -> ScoringSummary:
    async with ctx.db.session() as session:
        summary = await score_events(session, ctx.settings, event_ids)
        await session.commit()
        return summary


async def _count_failure(ctx: JobContext, event_ids: list[int], exc: Exception) -> None:
    log.warning("scoring %d events failed: %r", len(event_ids), exc)
    async with ctx.db.session() as session:
        await session.exec(
            update(ActivityEvent)
            .where(
                col(ActivityEvent.id).in_(event_ids),
                col(ActivityEvent.status) == EventStatus.pending,
            )
            .values(attempts=ActivityEvent.attempts + 1, last_error=repr(exc)[:2000])
        )
        await session.exec(
            update(ActivityEvent)
            .where(
                col(ActivityEvent.id).in_(event_ids),
                col(ActivityEvent.status) == EventStatus.pending,
                col(ActivityEvent.attempts) >= MAX_ATTEMPTS,
            )
            .values(status=EventStatus.parked.value)
        )
        await session.commit()


@job("score_pending")
async def score_pending(ctx: JobContext, *, older_than_seconds: int = 60) -> int:
    """The safety net: events left pending (a lost job, a crash) are scored again."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    async with ctx.db.session() as session:
        ids = list(
            (
                await session.exec(
                    select(ActivityEvent.id)
                    .where(
                        col(ActivityEvent.status) == EventStatus.pending,
                        ActivityEvent.received_at < cutoff,
                    )
                    .order_by(col(ActivityEvent.id))
                    .limit(10_000)
                )
            ).all()
        )
    for start in range(0, len(ids), BATCH):
        await ctx.queue.enqueue("score_events", event_ids=ids[start : start + BATCH])
    return len(ids)


async def retry_parked(ctx: JobContext, event_ids: Sequence[int]) -> int:
    """An admin's retry: parked events go back to pending and are scored now."""
    async with ctx.db.session() as session:
        result = await session.exec(
            update(ActivityEvent)
            .where(
                col(ActivityEvent.id).in_(event_ids),
                col(ActivityEvent.status) == EventStatus.parked,
            )
            .values(status=EventStatus.pending.value, attempts=0, last_error=None)
        )
        await session.commit()
    await ctx.queue.enqueue("score_events", event_ids=list(event_ids))
    return int(result.rowcount or 0)


@job("expire_points")
async def expire_points_job(ctx: JobContext) -> dict[str, int]:
    """Daily: points older than POINTS_EXPIRY_MONTHS expire (no-op when it is 0)."""
    async with ctx.db.session() as session:
        result = await expire_points(session, ctx.settings, datetime.now(ctx.settings.zone).date())
        await session.commit()
        return result
