"""Redemption jobs: release pending requests nobody acted on in time."""

from __future__ import annotations

from points.jobs import JobContext, job
from points.rewards.workflow import expire_due


@job("expire_redemptions")
async def expire_redemptions(ctx: JobContext) -> int:
    """Expire overdue pending redemptions (each releases its hold); safe to run any time.

    Works in batches, one commit each, so a crash loses at most one batch of work,
    and that batch is simply found again on the next run.
    """
    total = 0
    while True:
        async with ctx.db.session() as session:
            done = await expire_due(session, ctx.settings)
            await session.commit()
        total += done
        if done == 0:
            return total
