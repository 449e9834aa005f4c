"""``points demo``: migrate, build the company, feed its activity, stock the catalogue."""

from __future__ import annotations

import time

from points.db import Database
from points.demo.activity import feed_activity
from points.demo.company import build_company
from points.jobs import InlineQueue
from points.migrate import upgrade_async
from points.rewards.demo import build_demo_rewards
from points.rulesets.service import ensure_active
from points.settings import Settings


async def build_demo(settings: Settings, *, employees: int, days: int, seed: int) -> str:
    started = time.perf_counter()
    await upgrade_async(settings.DATABASE_URL)
    db = Database(settings)
    lines = []
    try:
        async with db.session() as session:
            company = await build_company(session, employees=employees, seed=seed)
            await ensure_active(session)
            await session.commit()
        lines.append(
            f"demo company ready: {company.employees} employees in {company.departments} "
            f"departments; admin {company.admin}, HR {', '.join(company.hr)}"
        )
        # Scoring runs right here, in this process, batch by batch.
        queue = InlineQueue(settings, db)
        events = await feed_activity(db, queue, days=days, seed=seed, zone=settings.zone)
        lines.append(f"{events} events of {days} days scored")
        async with db.session() as session:
            lines.append(await build_demo_rewards(session, settings, seed))
            await session.commit()
    finally:
        await db.dispose()
    lines.append(f"built in {time.perf_counter() - started:.1f} s")
    return "\n".join(lines)
