from __future__ import annotations

from typing import Any

from arq.worker import Worker
from sqlmodel import select

from points.audit.models import AuditEntry
from points.audit.service import record
from points.jobs import JOBS, InlineQueue, JobContext, commit, enqueue_after_commit, job
from points.jobs.arq_queue import ArqQueue, worker_settings
from tests.support.services import Store, make_settings


@job("test.write_audit")
async def write_audit(ctx: JobContext, *, note: str) -> None:
    async with ctx.db.session() as session:
        await record(session, actor="job", action="test.job", target=note)
        await session.commit()


async def _notes(pg: Store) -> list[str]:
    async with pg.db.session() as session:
        rows = await session.exec(select(AuditEntry.target).where(AuditEntry.action == "test.job"))
        return list(rows.all())


async def test_jobs_are_enqueued_only_after_commit(pg: Store) -> None:
    queue = InlineQueue(pg.settings, pg.db)
    async with pg.db.session() as session:
        enqueue_after_commit(session, "test.write_audit", note="after-commit")
        assert await _notes(pg) == []  # nothing ran before the commit
        await commit(session, queue)
    assert await _notes(pg) == ["after-commit"]


async def test_rolled_back_work_enqueues_nothing(pg: Store) -> None:
    queue = InlineQueue(pg.settings, pg.db)
    async with pg.db.session() as session:
        enqueue_after_commit(session, "test.write_audit", note="never")
        await session.rollback()
    async with pg.db.session() as session:
        await commit(session, queue)
    assert await _notes(pg) == []


async def test_arq_worker_runs_a_job_sent_through_redis(pg: Store, redis_url: str) -> None:
    settings = make_settings(pg.settings.DATABASE_URL, REDIS_URL=redis_url)
    queue = ArqQueue(redis_url)
    try:
        await queue.enqueue("test.write_audit", note="via-redis")
    finally:
        await queue.close()
    options: dict[str, Any] = worker_settings(
        settings, burst=True, poll_delay=0, handle_signals=False
    )
    worker = Worker(**options)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert await _notes(pg) == ["via-redis"]
    assert "test.write_audit" in JOBS


async def test_arq_enqueue_writes_what_arq_writes_in_one_transaction(redis_url: str) -> None:
    import redis.asyncio as aioredis
    from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix
    from arq.jobs import Job, JobStatus

    client = aioredis.from_url(redis_url)
    queue = ArqQueue(redis_url)
    try:
        await client.flushdb()
        await queue.enqueue("test.write_audit", note="shape")
        (job_id,) = [i.decode() for i in await client.zrange(default_queue_name, 0, -1)]
        ttl = await client.pttl(job_key_prefix + job_id)
        assert expires_extra_ms - 60_000 < ttl <= expires_extra_ms  # expires like arq's own
        job = Job(job_id, client)  # type: ignore[arg-type]
        assert await job.status() == JobStatus.queued
        info = await job.info()
        assert info is not None
        assert (info.function, info.args, info.kwargs) == (
            "test.write_audit",
            (),
            {"note": "shape"},
        )
    finally:
        await client.flushdb()
        await queue.close()
        await client.aclose()


async def test_arq_enqueue_in_queues_the_job_for_later(redis_url: str) -> None:
    import redis.asyncio as aioredis
    from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix
    from arq.utils import timestamp_ms

    client = aioredis.from_url(redis_url)
    queue = ArqQueue(redis_url)
    try:
        await client.flushdb()
        before = timestamp_ms()
        await queue.enqueue_in(300, "test.write_audit", note="later")
        ((job_id, score),) = await client.zrange(default_queue_name, 0, -1, withscores=True)
        assert before + 300_000 <= score <= timestamp_ms() + 300_000  # not picked before then
        ttl = await client.pttl(job_key_prefix + job_id.decode())
        assert ttl > expires_extra_ms  # the job outlives its wait
    finally:
        await client.flushdb()
        await queue.close()
        await client.aclose()
