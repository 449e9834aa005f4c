"""Periodic job: awards nobody reviewed in time are rejected with that reason."""

from __future__ import annotations

from points.db import utcnow
from points.jobs import JobContext, job
from points.reviews.service import expire_due


@job("expire_pending_awards")
async def expire_pending_awards(ctx: JobContext) -> dict[str, int]:
    """Reject (as expired, with the reason) pending awards past their review period."""
    async with ctx.db.session() as session:
        expired = await expire_due(session, utcnow())
        await session.commit()
    return {"expired": expired}
