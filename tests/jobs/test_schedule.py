from __future__ import annotations

from points.jobs import job_function
from points.jobs.arq_queue import worker_settings
from points.jobs.schedule import SCHEDULE
from points.settings import Settings


def test_every_scheduled_job_exists_and_the_worker_runs_it() -> None:
    for name, _when in SCHEDULE:
        job_function(name)  # raises for a name nobody registered
    options = worker_settings(Settings(REDIS_URL="redis://127.0.0.1:6379/0"))
    scheduled = {c.name for c in options["cron_jobs"]}
    assert {f"cron:{name}" for name, _when in SCHEDULE} | {"cron:score_pending"} == scheduled
