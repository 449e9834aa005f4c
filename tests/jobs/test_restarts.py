"""Redis or PostgreSQL restarting while the worker scores: reconcile stays clean and
every event is scored exactly once.

Each test restarts a private server of its own (never the shared ones).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from points.db import Database
from points.jobs.arq_queue import ArqQueue
from points.migrate import upgrade
from tests.support.processes import (
    PrivatePostgres,
    PrivateRedis,
    WorkerProcess,
    assert_scored_exactly_once,
    count_scored,
    make_people,
    store_events,
    wait_until,
    wait_until_scored,
    workload,
)
from tests.support.services import Store, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]

EVENTS = 2000
JOB_SIZE = 25


async def _enqueue(queue: ArqQueue, ids: list[int]) -> None:
    for start in range(0, len(ids), JOB_SIZE):
        await queue.enqueue("score_events", event_ids=ids[start : start + JOB_SIZE])


async def test_a_redis_restart_during_processing(
    pg: Store, private_redis: PrivateRedis, worker_log: Path
) -> None:
    userids = await make_people(pg.db, 100)
    events = workload(userids, EVENTS)
    ids = await store_events(pg.db, events)
    queue = ArqQueue(private_redis.url)
    worker = WorkerProcess(pg.settings.DATABASE_URL, private_redis.url, worker_log)
    try:
        await _enqueue(queue, ids)
        worker.start()
        await wait_until(pg.db, at_least=EVENTS // 5)
        # Redis comes back empty (no persistence): the queued jobs are gone.
        await asyncio.to_thread(private_redis.restart, 1.0)
        assert await count_scored(pg.db) < EVENTS, "everything was scored before the restart"
        await queue.close()  # a fresh connection to the new server
        # The safety net finds what the lost jobs would have scored.
        await queue.enqueue("score_pending", older_than_seconds=0)
        await wait_until_scored(pg.db, EVENTS, worker=worker)
    finally:
        worker.stop()
        await queue.close()
    await assert_scored_exactly_once(pg.db, pg.settings, events)


async def test_a_postgresql_restart_during_processing(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, worker_log: Path
) -> None:
    await asyncio.to_thread(upgrade, private_postgres.url)
    settings = make_settings(private_postgres.url)
    db = Database(settings)
    queue = ArqQueue(private_redis.url)
    worker = WorkerProcess(private_postgres.url, private_redis.url, worker_log)
    try:
        userids = await make_people(db, 100)
        events = workload(userids, EVENTS)
        ids = await store_events(db, events)
        await _enqueue(queue, ids)
        worker.start()
        await wait_until(db, at_least=EVENTS // 5)
        # Every connection is cut; jobs running now and until it is back fail.
        await asyncio.to_thread(private_postgres.restart, 1.0)
        # No sweep here: failed jobs must be retried by the queue.
        await wait_until_scored(db, EVENTS, worker=worker)
        await assert_scored_exactly_once(db, settings, events)
    finally:
        worker.stop()
        await queue.close()
        await db.dispose()
