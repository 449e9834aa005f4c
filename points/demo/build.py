"""``points demo``: migrate, build the company, and (as later parts land) its activity."""

from __future__ import annotations

from points.db import Database
from points.demo.company import build_company
from points.migrate import upgrade_async
from points.settings import Settings


async def build_demo(settings: Settings, *, employees: int, days: int, seed: int) -> str:
    await upgrade_async(settings.DATABASE_URL)
    db = Database(settings)
    try:
        async with db.session() as session:
            company = await build_company(session, employees=employees, seed=seed)
            await session.commit()
    finally:
        await db.dispose()
    return (
        f"demo company ready: {company.employees} employees in {company.departments} "
        f"departments; admin {company.admin}, HR {', '.join(company.hr)}"
    )
