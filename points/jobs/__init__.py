"""A small job-queue interface of our own, with two implementations.

``InlineQueue`` runs jobs in this process (the embedded default and unit tests);
``ArqQueue`` sends them to Redis for ``points worker``. arq is kept behind this
interface because it is in maintenance mode. Exactly-once never relies on the
queue: jobs are safe to run twice because the database's unique keys decide.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import Database, utcnow
from points.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a job gets: the settings, the database and the queue (to chain jobs).

    ``clock`` is "now" for jobs that schedule by time (tests move it forward instead
    of waiting).
    """

    settings: Settings
    db: Database
    queue: JobQueue
    clock: Callable[[], datetime] = utcnow


JobFunction = Callable[..., Awaitable[Any]]
JOBS: dict[str, JobFunction] = {}


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``async def f(ctx: JobContext, **kwargs)`` under a stable name."""

    def register(function: JobFunction) -> JobFunction:
        JOBS[name] = function
        return function

    return register


def job_function(name: str) -> JobFunction:
    """The registered job ``name``.

    The entry points fill the registry (``points.wiring.load_jobs``); this package
    imports no domain, so that every domain may import it.
    """
    try:
        return JOBS[name]
    except KeyError:
        raise KeyError(f"unknown job {name!r} (was points.wiring.load_jobs() called?)") from None


class JobQueue(Protocol):
    async def enqueue(self, name: str, **kwargs: Any) -> None: ...

    async def enqueue_in(self, seconds: float, name: str, **kwargs: Any) -> None: ...

    async def close(self) -> None: ...


@dataclass
class InlineQueue:
    """Runs each job in this process right after it is enqueued.

    With ``background=True`` (the web server's embedded mode) jobs run as tasks so
    a request does not wait for scoring; ``drain()`` waits for them.
    """

    settings: Settings
    db: Database
    background: bool = False
    clock: Callable[[], datetime] = utcnow
    #: Jobs asked for later while not in the background (tests run them when they like).
    deferred: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _later: set[asyncio.Task[Any]] = field(default_factory=set)

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        function = job_function(name)
        ctx = JobContext(self.settings, self.db, self, self.clock)
        if not self.background:
            await function(ctx, **kwargs)
            return
        task = asyncio.create_task(self._run_logged(name, function, ctx, kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def enqueue_in(self, seconds: float, name: str, **kwargs: Any) -> None:
        """Run the job after ``seconds``: a task in the background, else remembered."""
        job_function(name)  # refuse unknown names now
        if not self.background:
            self.deferred.append((seconds, name, kwargs))
            return

        async def later() -> None:
            await asyncio.sleep(seconds)
            await self.enqueue(name, **kwargs)

        # Kept apart from the running jobs: draining must not wait minutes for these.
        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _run_logged(
        self, name: str, function: JobFunction, ctx: JobContext, kwargs: dict[str, Any]
    ) -> None:
        try:
            await function(ctx, **kwargs)
        except Exception:
            log.exception("job %s failed", name)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._later):
            task.cancel()  # the schedule (or the next manual run) picks the work up
        await self.drain()


_PENDING = "after_commit_jobs"

#: Jobs a transaction asked for that were committed without being sent (a plain
#: ``session.commit()`` where :func:`commit` was due). Always a bug: it is logged, and
#: the test suite fails any test that leaves one here.
DROPPED: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)


def enqueue_after_commit(session: AsyncSession, name: str, **kwargs: Any) -> None:
    """Remember a job to send once this session's transaction has committed.

    A job must never see a row that may still roll back. The transaction must then
    end with :func:`commit`, which sends it.
    """
    session.info.setdefault(_PENDING, []).append((name, kwargs))


async def commit(session: AsyncSession, queue: JobQueue | None) -> None:
    """Commit, then enqueue the jobs the transaction asked for."""
    pending: list[tuple[str, dict[str, Any]]] = session.info.pop(_PENDING, [])
    await session.commit()
    if queue is None:
        return
    for name, kwargs in pending:
        try:
            await queue.enqueue(name, **kwargs)
        except (RedisError, OSError, TimeoutError) as exc:
            # What was committed is stored and must be answered as stored: a Redis outage
            # is not an intake outage. The safety-net sweep (score_pending) finds the
            # events still pending and scores them once the queue is back.
            log.warning("job %s not sent, the sweep will catch up: %r", name, exc)


@event.listens_for(Session, "after_commit")
def _jobs_left_behind(session: Session) -> None:
    """A commit that did not go through :func:`commit` while jobs were waiting."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        DROPPED.extend(pending)
        log.error("committed without sending its jobs (use points.jobs.commit): %r", pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_jobs(session: Session, previous: SessionTransaction) -> None:
    """Work that rolled back asks for nothing."""
    if previous.parent is None and not previous.nested:
        session.info.pop(_PENDING, None)


def make_queue(settings: Settings, db: Database, *, background: bool = False) -> JobQueue:
    """arq when Redis is configured, otherwise in-process."""
    if settings.REDIS_URL:
        from points.jobs.arq_queue import ArqQueue

        # The web process (background=True) does not wait long for Redis: see
        # redis_settings and commit() — a Redis outage is not an intake outage.
        return ArqQueue(settings.REDIS_URL, patient=not background)
    return InlineQueue(settings, db, background=background)
