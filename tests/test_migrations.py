from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from points.migrate import upgrade
from points.models import metadata
from tests.support.services import Store


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, metadata))


async def test_migrations_build_the_models_schema_on_postgresql(pg: Store) -> None:
    async with pg.db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_migrations_build_the_models_schema_on_sqlite(lite: Store) -> None:
    async with lite.db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    # Running them again is a no-op, as `points migrate` promises.
    await asyncio.to_thread(upgrade, lite.settings.DATABASE_URL)
