"""The job that publishes (freezes) the boards of weeks and months that have closed."""

from __future__ import annotations

from points.boards.frozen import freeze_closed
from points.jobs import JobContext, job

FREEZE_JOB = "freeze_closed_boards"


@job(FREEZE_JOB)
async def freeze_closed_boards(ctx: JobContext) -> list[str]:
    """Freeze every recently closed week and month not frozen yet; safe to run any time.

    The unique (period, key) row makes a second run, or two at once, a no-op.
    """
    async with ctx.db.session() as session:
        frozen = await freeze_closed(session, ctx.settings.zone)
        await session.commit()
    return frozen
