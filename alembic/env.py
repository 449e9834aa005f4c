"""Alembic environment: runs migrations on the async engine, SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Connection

from alembic import context
from points.db import Database
from points.models import metadata
from points.settings import Settings

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # SQLModel's AutoString renders as an unknown name; it is a plain VARCHAR.
    if type_ == "type" and obj.__class__.__name__ == "AutoString":
        length = getattr(obj, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    if type_ == "type" and obj.__class__.__name__ == "AwareDateTime":
        autogen_context.imports.add("import points.db")
        return "points.db.AwareDateTime()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run() -> None:
    url = config.attributes.get("database_url") or Settings().DATABASE_URL
    db = Database(Settings(DATABASE_URL=url))
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await db.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    asyncio.run(_run())
