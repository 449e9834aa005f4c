"""The periodic jobs without Redis: ``points serve`` runs them itself, once per slot.

Each job's schedule (``points/jobs/schedule.py``, the same one the arq worker uses)
names minutes — and for daily jobs hours — in ``POINTS_TIMEZONE``. A run claims its
slot by inserting a ``job_run`` row whose ``(job, slot)`` is unique: whichever
process inserts it runs the job, every other process (more web workers, a second
host, cron calling ``points jobs run``) sees the row and leaves it. Jobs are
idempotent by their own database keys as well, so a run by hand is always safe.

A slot missed while nothing was running is caught up once when the next process
starts (expiry that was due at 00:40 still happens), except for jobs whose
message only makes sense on time (the evening digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import Database, utcnow
from points.jobs import JobContext, JobQueue, job_function
from points.ops.models import JobRun
from points.settings import Settings

log = logging.getLogger(__name__)

SLOT_FORMAT = "%Y-%m-%dT%H:%M"
# Jobs that are only worth running near their time (a digest of "today" sent next morning
# would be wrong); the others catch up a missed slot.
ON_TIME_ONLY = frozenset({"wecom_daily_digest"})
ON_TIME_GRACE = timedelta(minutes=30)
# Runs of jobs scheduled more often than hourly are kept in job_run only, not the audit
# log, so the log stays readable; hourly and daily runs, and every run by hand, are audited.
FREQUENT_MINUTES = 6
# The embedded default scores inline; this sweep picks up events a crash left unscored.
EXTRA_SCHEDULE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("score_pending", {"minute": set(range(0, 60, 10))}),
)


def _as_set(value: Any) -> frozenset[int]:
    if isinstance(value, int):
        return frozenset({value})
    return frozenset(int(v) for v in value)


@dataclass(frozen=True)
class Periodic:
    """One periodic job and when it runs (minutes, and hours for daily jobs)."""

    name: str
    minutes: frozenset[int]
    hours: frozenset[int] | None = None

    def matches(self, moment: datetime) -> bool:
        return moment.minute in self.minutes and (self.hours is None or moment.hour in self.hours)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=1) if self.hours is not None else timedelta(hours=1)

    @property
    def frequent(self) -> bool:
        return self.hours is None and len(self.minutes) >= FREQUENT_MINUTES

    def previous(self, now: datetime) -> datetime | None:
        """The latest scheduled minute at or before ``now`` (in now's zone)."""
        moment = now.replace(second=0, microsecond=0)
        for _ in range(int(self.horizon.total_seconds() // 60) + 1):
            if self.matches(moment):
                return moment
            moment -= timedelta(minutes=1)
        return None

    def next(self, now: datetime) -> datetime | None:
        """The first scheduled minute after ``now``."""
        moment = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(int(self.horizon.total_seconds() // 60) + 1):
            if self.matches(moment):
                return moment
            moment += timedelta(minutes=1)
        return None

    def describe(self) -> str:
        ordered = sorted(self.minutes)
        steps = {b - a for a, b in itertools.pairwise(ordered)}
        if self.hours is None and len(ordered) > 2 and len(steps) == 1 and ordered[0] < min(steps):
            return f"every {steps.pop()} min"
        minutes = ",".join(f"{m:02d}" for m in ordered)
        if self.hours is None:
            return f"hourly at :{minutes}"
        hours = ",".join(f"{h:02d}" for h in sorted(self.hours))
        return f"daily at {hours}:{minutes}"


def periodic_jobs() -> list[Periodic]:
    """Every periodic job: the worker's schedule plus the embedded default's sweep."""
    from points.jobs.schedule import SCHEDULE

    jobs = []
    for name, when in (*SCHEDULE, *EXTRA_SCHEDULE):
        hours = when.get("hour")
        jobs.append(
            Periodic(
                name=name,
                minutes=_as_set(when.get("minute", 0)),
                hours=None if hours is None else _as_set(hours),
            )
        )
    return jobs


def find(name: str) -> Periodic:
    for periodic in periodic_jobs():
        if periodic.name == name:
            return periodic
    raise KeyError(name)


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:96]


def _jsonable(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            str(k): v if isinstance(v, str | int | float | bool | None) else str(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return {"items": [str(v) for v in value][:50]}
    return {"result": value if isinstance(value, str | int | float | bool | None) else str(value)}


async def claim(db: Database, name: str, slot: str, *, trigger: str, runner: str) -> int | None:
    """Insert the run's row; None when another process has already claimed this slot."""
    async with db.session() as session:
        run = JobRun(job=name, slot=slot, trigger=trigger, runner=runner)
        session.add(run)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return None
        return run.id


async def execute(
    settings: Settings,
    db: Database,
    queue: JobQueue,
    name: str,
    *,
    slot: str | None = None,
    trigger: str = "schedule",
    actor: str = "scheduler",
    ip: str = "",
    audited: bool = True,
) -> JobRun | None:
    """Claim a slot (a manual run gets a slot of its own), run the job, record the outcome."""
    function = job_function(name)
    slot = slot or f"manual:{uuid.uuid4().hex[:16]}"
    run_id = await claim(db, name, slot, trigger=trigger, runner=runner_name())
    if run_id is None:
        return None
    status, result, error = "ok", {}, None
    try:
        result = _jsonable(await function(JobContext(settings, db, queue)))
    except Exception as exc:  # a failing job is recorded and retried at its next slot
        log.exception("periodic job %s failed", name)
        status, error = "failed", repr(exc)[:500]
    async with db.session() as session:
        run = await session.get(JobRun, run_id)
        assert run is not None
        run.status, run.result, run.error, run.finished_at = status, result, error, utcnow()
        session.add(run)
        if audited:
            await record(
                session,
                actor=actor,
                action="job.run",
                target=name,
                details={"slot": slot, "trigger": trigger, "status": status, **result},
                ip=ip,
            )
        await session.commit()
        return run


async def run_due(
    settings: Settings, db: Database, queue: JobQueue, now: datetime | None = None
) -> list[JobRun]:
    """Run every job whose latest slot nobody has claimed yet (one pass)."""
    local_now = (now or utcnow()).astimezone(settings.zone)
    done = []
    for periodic in periodic_jobs():
        slot = periodic.previous(local_now)
        if slot is None:
            continue
        if periodic.name in ON_TIME_ONLY and local_now - slot > ON_TIME_GRACE:
            continue
        run = await execute(
            settings,
            db,
            queue,
            periodic.name,
            slot=slot.strftime(SLOT_FORMAT),
            audited=not periodic.frequent,
        )
        if run is not None:
            done.append(run)
    return done


async def run_forever(
    settings: Settings, db: Database, queue: JobQueue, stop: asyncio.Event, tick: float = 30.0
) -> None:
    """``points serve``'s scheduler loop: a pass every ``tick`` seconds until ``stop``."""
    # uvicorn's logger is the one `points serve` prints at INFO: say so where operators look.
    logging.getLogger("uvicorn.error").info(
        "periodic jobs run in this process (no Redis): %s", runner_name()
    )
    while not stop.is_set():
        try:
            await run_due(settings, db, queue)
        except Exception:  # the database was away: try again next tick
            log.exception("periodic jobs: pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)


@dataclass
class JobStatus:
    periodic: Periodic
    last: JobRun | None
    next_at: datetime | None


async def status(settings: Settings, db: Database, now: datetime | None = None) -> list[JobStatus]:
    """Each periodic job with its last run and its next slot."""
    local_now = (now or utcnow()).astimezone(settings.zone)
    jobs = periodic_jobs()
    async with db.session() as session:
        latest = select(func.max(JobRun.id)).group_by(col(JobRun.job))
        rows = (await session.exec(select(JobRun).where(col(JobRun.id).in_(latest)))).all()
    last = {run.job: run for run in rows}
    return [JobStatus(p, last.get(p.name), p.next(local_now)) for p in jobs]


async def prune_runs(session: AsyncSession, now: datetime, keep_days: int = 90) -> int:
    """Forget runs older than ``keep_days`` (the five-minute jobs add 288 rows a day)."""
    result = await session.exec(
        delete(JobRun).where(col(JobRun.started_at) < now - timedelta(days=keep_days))
    )
    return int(result.rowcount or 0)


async def recent_runs(
    db: Database, names: Iterable[str] | None = None, limit: int = 50
) -> Sequence[JobRun]:
    async with db.session() as session:
        query = select(JobRun).order_by(col(JobRun.id).desc()).limit(limit)
        if names is not None:
            query = query.where(col(JobRun.job).in_(list(names)))
        return (await session.exec(query)).all()
