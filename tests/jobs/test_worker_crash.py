"""An arq worker killed with SIGKILL mid-batch and restarted loses and duplicates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from points.jobs.arq_queue import ArqQueue
from tests.support.processes import (
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
from tests.support.services import Store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("faults")]

EVENTS = 3000
JOB_SIZE = 25  # small jobs: many in flight when the worker dies


async def test_a_killed_worker_restarted_loses_and_duplicates_nothing(
    pg: Store, private_redis: PrivateRedis, worker_log: Path
) -> None:
    userids = await make_people(pg.db, 150)
    events = workload(userids, EVENTS)
    ids = await store_events(pg.db, events)
    queue = ArqQueue(private_redis.url)
    worker = WorkerProcess(pg.settings.DATABASE_URL, private_redis.url, worker_log)
    try:
        for start in range(0, len(ids), JOB_SIZE):
            await queue.enqueue("score_events", event_ids=ids[start : start + JOB_SIZE])
        worker.start()
        await wait_until(pg.db, at_least=EVENTS // 5)
        worker.kill()  # mid-batch: several jobs' transactions are cut off
        scored_at_kill = await count_scored(pg.db)
        assert scored_at_kill < EVENTS, "the worker finished before it could be killed"

        worker.start()
        # The jobs that were running stay claimed in Redis until arq's in-progress
        # timeout; the sweep finds their events now.
        await queue.enqueue("score_pending", older_than_seconds=0)
        await wait_until_scored(pg.db, EVENTS, worker=worker)
    finally:
        worker.stop()
        await queue.close()
    await assert_scored_exactly_once(pg.db, pg.settings, events)
