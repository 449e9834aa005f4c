"""PostgreSQL's driver under a session, for the paths that write many rows at once.

Hot paths (an intake batch, the ledger writer, a redemption request) send arrays
or several ``INSERT`` clauses in one statement through the asyncpg connection the
session holds, inside the session's own transaction.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside its open transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    asyncpg_connection = raw.driver_connection
    assert asyncpg_connection is not None
    if not asyncpg_connection.is_in_transaction():
        # SQLAlchemy begins lazily; make sure we write inside its transaction.
        await connection.execute(text("SELECT 1"))
    return asyncpg_connection


def _plain(value: Any) -> Any:
    """A value as asyncpg sends it for its column: JSON as text, enums by value."""
    if isinstance(value, dict | list):
        return json.dumps(value)  # as SQLAlchemy's JSON type sends it
    if isinstance(value, enum.Enum):
        return value.value
    return value


def insert_clauses(rows: Sequence[tuple[str, SQLModel]], first: int) -> tuple[str, list[Any]]:
    """``, name AS (INSERT INTO … VALUES … RETURNING id)`` for each (name, object): the
    objects' own column values (as built by their modules), parameters from ``$first``."""
    sql: list[str] = []
    args: list[Any] = []
    for name, row in rows:
        table = row.__table__  # type: ignore[attr-defined]
        values = {
            c.name: getattr(row, c.name)
            for c in table.columns
            if not (c.primary_key and getattr(row, c.name) is None)
        }
        numbers = ", ".join(f"${first + len(args) + n}" for n in range(len(values)))
        sql.append(
            f", {name} AS (INSERT INTO {table.name} ({', '.join(values)}) "
            f"VALUES ({numbers}) RETURNING id)"
        )
        args += [_plain(v) for v in values.values()]
    return "".join(sql), args
