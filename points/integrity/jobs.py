"""The daily integrity scan, as a periodic job (``points jobs run integrity_scan``)."""

from __future__ import annotations

from points.integrity.service import scan
from points.jobs import JobContext, job


@job("integrity_scan")
async def integrity_scan(ctx: JobContext) -> dict[str, int]:
    """Find the integrity review's patterns over the last 28 days; update, never duplicate."""
    async with ctx.db.session() as session:
        summary = await scan(session, ctx.settings)
        await session.commit()
    return summary.as_dict()
