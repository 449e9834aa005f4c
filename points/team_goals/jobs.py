"""Periodic job: department challenges whose window closed are settled and paid once."""

from __future__ import annotations

from dataclasses import asdict

from points.db import utcnow
from points.jobs import JobContext, job
from points.team_goals.service import settle


@job("settle_team_goals")
async def settle_team_goals(ctx: JobContext) -> dict[str, int]:
    """Pay each eligible member of every team that met its goal when the window closed."""
    async with ctx.db.session() as session:
        summary = await settle(session, ctx.settings, utcnow())
        await session.commit()
    return asdict(summary)
