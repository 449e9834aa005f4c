"""How the arq side recovers: failed jobs retried with backoff, a periodic sweep."""

from __future__ import annotations

from typing import Any

import pytest
from arq.worker import Retry

from points.jobs import JobContext, job
from points.jobs.arq_queue import _arq_function, retry_delay, worker_settings
from tests.support.services import make_settings


@job("test.always_fails")
async def always_fails(ctx: JobContext) -> None:
    raise ConnectionRefusedError("the database is restarting")


async def test_a_failed_job_is_retried_by_arq_with_backoff() -> None:
    run = _arq_function("test.always_fails")
    ctx: dict[str, Any] = {"points": None, "job_try": 3}
    with pytest.raises(Retry) as raised:
        await run(ctx)
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert raised.value.defer_score == 4000  # ms: 1 s, 2 s, 4 s, 8 s…
    assert [retry_delay(n) for n in (1, 2, 3, 4, 20)] == [1, 2, 4, 8, 60]


def test_the_worker_sweeps_pending_events_every_minute_and_at_start() -> None:
    options = worker_settings(make_settings("sqlite+aiosqlite:///unused.db"))
    sweeps = [c for c in options["cron_jobs"] if c.name == "cron:score_pending"]
    assert len(sweeps) == 1
    assert sweeps[0].run_at_startup
    assert options["max_tries"] >= 5
