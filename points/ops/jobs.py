"""Periodic jobs of this package: expiry reminders and the privacy retention run."""

from __future__ import annotations

from typing import Any

from points.db import utcnow
from points.jobs import JobContext, job
from points.ledger.expiry_reminders import send_reminders
from points.ops.scheduler import prune_runs
from points.privacy.service import anonymise_leavers, clear_old_event_attributes


@job("remind_expiring_points")
async def remind_expiring_points(ctx: JobContext) -> dict[str, int]:
    """App messages to people whose points expire within POINTS_EXPIRY_REMINDER_DAYS."""
    today = utcnow().astimezone(ctx.settings.zone).date()
    async with ctx.db.session() as session:
        summary = await send_reminders(session, ctx.settings, today)
        await session.commit()
    return summary


@job("privacy_retention")
async def privacy_retention(ctx: JobContext) -> dict[str, Any]:
    """Clear old raw event attributes; anonymise leavers gone long enough."""
    now = utcnow()
    async with ctx.db.session() as session:
        cleared = await clear_old_event_attributes(session, ctx.settings, now)
        anonymised = await anonymise_leavers(
            session, ctx.settings, now.astimezone(ctx.settings.zone).date()
        )
        pruned = await prune_runs(session, now)
        await session.commit()
    return {"events_cleared": cleared, "leavers_anonymised": anonymised, "job_runs_pruned": pruned}
