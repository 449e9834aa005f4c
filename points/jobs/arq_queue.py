"""The arq implementation of the job queue, and the worker's settings."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from points.db import Database
from points.jobs import JOBS, InlineQueue, JobContext, job_function
from points.settings import Settings, get_settings


class ArqQueue:
    def __init__(self, redis_url: str) -> None:
        self.redis_settings = RedisSettings.from_dsn(redis_url)
        self._pool: ArqRedis | None = None

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        job_function(name)  # refuse unknown names here, not in the worker
        if self._pool is None:
            self._pool = await create_pool(self.redis_settings)
        await self._pool.enqueue_job(name, **kwargs)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def _arq_function(name: str) -> Any:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        return await JOBS[name](ctx["points"], **kwargs)

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


def worker_settings(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``arq.Worker``; every registered job is served."""
    import points.jobs.registry  # noqa: F401  (registers the jobs)

    options: dict[str, Any] = {
        "functions": [_arq_function(name) for name in sorted(JOBS)],
        "redis_settings": RedisSettings.from_dsn(settings.REDIS_URL or "redis://127.0.0.1:6379"),
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "ctx": {"settings": settings},
        # A job may be retried after a crash; jobs are idempotent by database keys.
        "max_tries": 5,
        "retry_jobs": True,
        "job_timeout": 300,
        "keep_result": 60,
    }
    options.update(overrides)
    return options
