"""PostgreSQL fast path for posting: whole batches as arrays, one statement per table.

Scoring writes thousands of rows per batch; passing them as arrays to ``unnest``
through the asyncpg driver (inside the session's own transaction) is several
times faster than row-by-row parameter processing. SQLite takes the portable
path in :mod:`points.ledger.service`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

# ledger_transaction's columns as the fast paths write them (the keys of
# ``Posting.transaction_row``), with their PostgreSQL types.
TRANSACTION_COLUMNS = (
    ("key", "varchar"),
    ("kind", "varchar"),
    ("employee_id", "int"),
    ("department_id", "int"),
    ("points", "int"),
    ("effective_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("event_id", "int"),
    ("rule_id", "varchar"),
    ("rule_version", "int"),
    ("cap_period_key", "varchar"),
    ("once_value", "varchar"),
    ("badge", "varchar"),
    ("reverses_id", "int"),
    ("redemption_id", "int"),
    ("author", "varchar"),
    ("reason", "varchar"),
    ("reason_en", "varchar"),
)
TRANSACTION_NAMES = ", ".join(name for name, _type in TRANSACTION_COLUMNS)
_TRANSACTION_ARRAYS = ", ".join(
    f"${n}::{type_}[]" for n, (_name, type_) in enumerate(TRANSACTION_COLUMNS, 1)
)

INSERT_TRANSACTIONS = f"""
INSERT INTO ledger_transaction ({TRANSACTION_NAMES})
SELECT * FROM unnest({_TRANSACTION_ARRAYS})
ON CONFLICT (key) DO NOTHING
RETURNING id, key
"""

INSERT_ENTRIES = """
INSERT INTO ledger_entry (transaction_id, account_id, amount)
SELECT * FROM unnest($1::int[], $2::int[], $3::int[])
"""

# One row at a time in id order (executemany is pipelined), so concurrent writers
# take row locks in the same order and cannot deadlock.
UPDATE_BALANCE = "UPDATE account SET balance = balance + $2 WHERE id = $1"

ADD_SCORES = """
INSERT INTO {table} ({owner}, period, period_key, points)
SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::int[])
ON CONFLICT ({owner}, period, period_key)
DO UPDATE SET points = {table}.points + EXCLUDED.points
"""


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


async def insert_transactions(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[tuple[int, str]]:
    """Write the transactions whose key is new; their (id, key)."""
    arrays = [[row[name] for row in rows] for name, _type in TRANSACTION_COLUMNS]
    connection = await driver(session)
    found = await connection.fetch(INSERT_TRANSACTIONS, *arrays)
    return [(record["id"], record["key"]) for record in found]


async def insert_entries(session: AsyncSession, entries: list[tuple[int, int, int]]) -> None:
    connection = await driver(session)
    await connection.execute(
        INSERT_ENTRIES, [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]
    )


async def apply_balances(session: AsyncSession, deltas: list[tuple[int, int]]) -> None:
    connection = await driver(session)
    await connection.executemany(UPDATE_BALANCE, sorted(deltas))


async def add_scores(
    session: AsyncSession, table: str, owner: str, scores: list[tuple[int, str, str, int]]
) -> None:
    connection = await driver(session)
    await connection.execute(
        ADD_SCORES.format(table=table, owner=owner),
        [s[0] for s in scores],
        [s[1] for s in scores],
        [s[2] for s in scores],
        [s[3] for s in scores],
    )


ADD_CAP_USAGE = """
INSERT INTO rule_cap_usage (employee_id, rule_id, cap_period_key, points)
SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::int[])
ON CONFLICT (employee_id, rule_id, cap_period_key)
DO UPDATE SET points = rule_cap_usage.points + EXCLUDED.points
"""


async def add_cap_usage(session: AsyncSession, usage: list[tuple[int, str, str, int]]) -> None:
    connection = await driver(session)
    await connection.execute(
        ADD_CAP_USAGE,
        [u[0] for u in usage],
        [u[1] for u in usage],
        [u[2] for u in usage],
        [u[3] for u in usage],
    )


READ_CAP_USAGE = """
SELECT u.employee_id, u.rule_id, u.cap_period_key, u.points
FROM rule_cap_usage AS u
JOIN unnest($1::int[], $2::varchar[], $3::varchar[]) AS w(employee_id, rule_id, cap_period_key)
  USING (employee_id, rule_id, cap_period_key)
"""


async def read_cap_usage(
    session: AsyncSession, wanted: list[tuple[int, str, str]]
) -> list[tuple[int, str, str, int]]:
    """The usage rows for exactly these (person, rule, period) — a join, not IN lists."""
    connection = await driver(session)
    rows = await connection.fetch(
        READ_CAP_USAGE, [w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted]
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]
