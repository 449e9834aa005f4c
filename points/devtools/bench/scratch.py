"""Throwaway PostgreSQL databases for the benchmark scenarios.

Scenarios create a database of their own (on the server named by ``POINTS_BENCH_PG``,
default the local one), migrate it, and drop it at the end.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]


def dsn(url: str) -> str:
    """A plain libpq URL (asyncpg does not take SQLAlchemy's driver prefix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://").rstrip("/")


async def admin_sql(base: str, sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's maintenance database."""
    conn = await asyncpg.connect(dsn(base) + "/postgres", timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
