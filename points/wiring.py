"""What the entry points assemble: every domain's jobs, in one registry.

The queue (:mod:`points.jobs`) knows no domain, and the domains' job modules import
the queue to register with ``@job``. So the registry is built here, at the edge, by
whoever starts work: ``points worker``, the app factory and the CLI commands that run
jobs in-process call :func:`load_jobs` first. Nothing under a domain imports this.
"""

from __future__ import annotations

from collections.abc import Mapping

from points.jobs import JOBS, JobFunction


def load_jobs() -> Mapping[str, JobFunction]:
    """Every registered job by name (importing each domain's job module registers them)."""
    import points.boards.jobs
    import points.dashboards.pilot_report
    import points.integrity.jobs
    import points.ops.jobs
    import points.reviews.jobs
    import points.rewards.jobs
    import points.scoring.jobs
    import points.team_goals.jobs
    import points.wecom.jobs
    import points.wecom.workbench_card  # noqa: F401

    return JOBS
