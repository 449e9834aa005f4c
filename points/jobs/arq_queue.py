"""The arq implementation of the job queue, and the worker's settings."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from typing import Any
from uuid import uuid4

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from arq.worker import Retry
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from points.db import Database
from points.jobs import JOBS, InlineQueue, JobContext, job_function
from points.settings import Settings, get_settings

log = logging.getLogger(__name__)


def redis_settings(redis_url: str, *, patient: bool = True) -> RedisSettings:
    """Connection settings that ride out a Redis restart.

    Patient (workers, the CLI): every command is retried with backoff for about half a
    minute, so a worker waits for Redis to come back instead of dying. Not patient (the
    web process): about a second, then the caller goes on without the queue — the
    request was committed and is answered as stored, and the safety-net sweep
    (``score_pending``) sends what was missed once Redis is back.
    """
    settings = RedisSettings.from_dsn(redis_url)
    if patient:
        settings.retry = RedisRetry(ExponentialBackoff(cap=5.0, base=0.2), retries=10)
    else:
        settings.retry = RedisRetry(ExponentialBackoff(cap=0.5, base=0.1), retries=3)
        settings.conn_retries = 0
        settings.conn_timeout = 1
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    return settings


def retry_delay(job_try: int) -> float:
    """Seconds before try ``job_try + 1`` of a failed job: 1, 2, 4, 8… (at most a minute)."""
    return float(min(2 ** max(job_try - 1, 0), 60))


class ArqQueue:
    def __init__(self, redis_url: str, *, patient: bool = True) -> None:
        self.redis_settings = redis_settings(redis_url, patient=patient)
        self._pool: ArqRedis | None = None

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        """Send a job to Redis now (see :meth:`enqueue_in`)."""
        await self.enqueue_in(0, name, **kwargs)

    async def enqueue_in(self, seconds: float, name: str, **kwargs: Any) -> None:
        """Send a job to Redis in one round trip (what ``ArqRedis.enqueue_job`` writes).

        arq's ``enqueue_job`` first WATCHes and checks the job key, which only matters
        for caller-chosen ids; ours are fresh random ids, so that costs two extra round
        trips per job for nothing. The job and its queue entry go in one MULTI/EXEC.
        """
        job_function(name)  # refuse unknown names here, not in the worker
        if self._pool is None:
            self._pool = await create_pool(self.redis_settings)
        pool = self._pool
        job_id = uuid4().hex
        now_ms = timestamp_ms()
        job = serialize_job(name, (), kwargs, None, now_ms, serializer=pool.job_serializer)
        run_at_ms = now_ms + max(0, int(seconds * 1000))
        async with pool.pipeline(transaction=True) as pipe:
            pipe.psetex(job_key_prefix + job_id, run_at_ms - now_ms + pool.expires_extra_ms, job)
            pipe.zadd(pool.default_queue_name, {job_id: run_at_ms})
            await pipe.execute()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def _arq_function(name: str) -> Any:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        try:
            return await JOBS[name](ctx["points"], **kwargs)
        except Exception as exc:
            # arq retries only jobs that raise Retry; a failure here is usually a lost
            # database connection, and every job is safe to run again (database keys
            # decide), so try again with backoff until max_tries.
            job_try = int(ctx.get("job_try") or 1)
            log.warning("job %s failed on try %d: %r", name, job_try, exc)
            raise Retry(defer=retry_delay(job_try)) from exc

    run.__qualname__ = run.__name__ = name
    return run


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    db = Database(settings)
    queue = ArqQueue(settings.REDIS_URL) if settings.REDIS_URL else InlineQueue(settings, db)
    ctx["points"] = JobContext(settings, db, queue)


async def _shutdown(ctx: dict[str, Any]) -> None:
    job_ctx: JobContext = ctx["points"]
    await job_ctx.queue.close()
    await job_ctx.db.dispose()


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """``points worker``: an arq worker, started afresh whenever Redis drops it.

    arq gives up on some connection errors (Redis restarting in the middle of a WATCH
    kills the worker); every job is safe to run again, so wait and start over.
    """
    from arq.worker import Worker

    delay = 1.0
    while True:
        worker = Worker(**worker_settings(settings, burst=burst))
        try:
            worker.run()
            return
        except RedisError as exc:
            _release(worker)
            if burst:
                raise
            log.warning("lost Redis (%r); starting the worker again in %.0fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def _release(worker: Any) -> None:
    """After a worker died: close its database pool and give signals back their defaults."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(Exception):
            worker.loop.remove_signal_handler(sig)
    job_ctx = worker.ctx.get("points")
    if job_ctx is not None:
        with contextlib.suppress(Exception):
            worker.loop.run_until_complete(job_ctx.db.dispose())


def worker_settings(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``arq.Worker``; every registered job is served.

    The caller has filled the registry (``points.wiring.load_jobs``).
    """
    if not JOBS:
        raise RuntimeError("no jobs registered: call points.wiring.load_jobs() first")
    options: dict[str, Any] = {
        "functions": [_arq_function(name) for name in sorted(JOBS)],
        "redis_settings": redis_settings(settings.REDIS_URL or "redis://127.0.0.1:6379"),
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "ctx": {"settings": settings},
        # A job may be retried after a crash; jobs are idempotent by database keys.
        "max_tries": 5,
        "retry_jobs": True,
        "job_timeout": 300,
        "keep_result": 60,
    }
    # Scheduled jobs (points/jobs/schedule.py), in the company's time zone.
    options["cron_jobs"] = _cron_jobs()
    options["timezone"] = settings.zone
    options.update(overrides)
    return options


def _cron_jobs() -> list[Any]:
    from arq import cron

    from points.jobs.schedule import SCHEDULE

    # A cron job's name must differ from the function's, which arq also serves by name.
    jobs = [cron(_arq_function(name), name=f"cron:{name}", **when) for name, when in SCHEDULE]
    # The scoring safety net: events whose job was lost (Redis restarted empty, a job
    # that ran out of tries) are found every minute, and when a worker starts.
    sweep = _arq_function("score_pending")
    jobs.append(cron(sweep, name="cron:score_pending", run_at_startup=True))
    return jobs
