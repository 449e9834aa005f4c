"""The growth bench's generated company is consistent: reconcile finds it clean."""

from __future__ import annotations

import asyncpg

from points.calendar import key_at
from points.db import utcnow
from points.devtools.bench.growth import _viewer
from points.devtools.bench.growth_data import add_company
from points.devtools.bench.scratch import dsn
from points.devtools.demo.company import build_company
from points.ledger.models import Period
from points.ledger.reconcile import reconcile
from tests.support.services import Store


async def test_generated_company_reconciles_and_has_a_mid_ranked_viewer(pg: Store) -> None:
    async with pg.db.session() as session:
        await build_company(session, employees=30)
        await session.commit()
    conn = await asyncpg.connect(dsn(pg.settings.DATABASE_URL), timeout=10)
    try:
        steps = await add_company(conn, employees=200, transactions=3_000, days=90)
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM employee) AS people,"
            " (SELECT count(*) FROM ledger_entry) AS entries,"
            " (SELECT count(*) FROM period_score WHERE period = 'all') AS all_time"
        )
        month = key_at(Period.month, utcnow(), pg.settings.zone)
        viewer = await _viewer(conn, month)
    finally:
        await conn.close()
    assert "ledger_transaction" in steps and "scores" in steps
    assert (counts["people"], counts["entries"]) == (230, 6_000)
    assert 0 < counts["all_time"] <= 200
    assert viewer.startswith("g")
    async with pg.db.session() as session:
        report = await reconcile(session, pg.settings.zone)
    assert report.clean, report.problems
    assert report.transactions == 3_000
