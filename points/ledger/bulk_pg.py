"""PostgreSQL fast path for posting: whole batches as arrays, one statement per table.

Scoring writes thousands of rows per batch; passing them as arrays to ``unnest``
through the asyncpg driver (inside the session's own transaction) is several
times faster than row-by-row parameter processing. SQLite takes the portable
path in :mod:`points.ledger.service`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

INSERT_TRANSACTIONS = """
INSERT INTO ledger_transaction (
    key, kind, employee_id, department_id, points, effective_at, created_at, event_id,
    rule_id, rule_version, cap_period_key, once_value, badge, reverses_id, redemption_id,
    author, reason, reason_en)
SELECT * FROM unnest(
    $1::varchar[], $2::varchar[], $3::int[], $4::int[], $5::int[], $6::timestamptz[],
    $7::timestamptz[], $8::int[], $9::varchar[], $10::int[], $11::varchar[], $12::varchar[],
    $13::varchar[], $14::int[], $15::int[], $16::varchar[], $17::varchar[], $18::varchar[])
ON CONFLICT (key) DO NOTHING
RETURNING id, key
"""

INSERT_EVENTS = """
INSERT INTO activity_event (
    source, external_id, type, actor, employee_id, occurred_at, attributes, payload_hash,
    status, received_at, attempts)
SELECT *, $10::timestamptz, 0 FROM unnest(
    $1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::int[], $6::timestamptz[],
    $7::json[], $8::varchar[], $9::varchar[])
ON CONFLICT (source, external_id) DO NOTHING
RETURNING id, external_id
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


# Posting attributes in INSERT_TRANSACTIONS order (None: the shared created_at).
_TRANSACTION_FIELDS = (
    "key",
    "kind",
    "employee_id",
    "department_id",
    "points",
    "effective_at",
    None,
    "event_id",
    "rule_id",
    "rule_version",
    "cap_period_key",
    "once_value",
    "badge",
    "reverses_id",
    "redemption_id",
    "author",
    "reason",
    "reason_en",
)


async def insert_transactions(
    session: AsyncSession, postings: Sequence[Any], now: datetime
) -> list[tuple[int, str]]:
    """Write the postings' transactions whose key is new; their (id, key)."""
    arrays: list[list[Any]] = []
    for name in _TRANSACTION_FIELDS:
        if name is None:
            arrays.append([now] * len(postings))
        elif name == "kind":
            arrays.append([p.kind.value for p in postings])
        elif name.startswith("reason"):
            arrays.append([text[:500] for text in map(attrgetter(name), postings)])
        else:
            arrays.append(list(map(attrgetter(name), postings)))
    connection = await driver(session)
    found = await connection.fetch(INSERT_TRANSACTIONS, *arrays)
    return [(record["id"], record["key"]) for record in found]


async def insert_events(
    session: AsyncSession, rows: list[dict[str, Any]], now: datetime
) -> dict[str, int]:
    """Intake's rows (those new by ``(source, external_id)``); their ids by external id."""
    columns = ("source", "external_id", "type", "actor", "employee_id", "occurred_at")
    arrays: list[Any] = [[r[c] for r in rows] for c in columns]
    arrays.append([json.dumps(r["attributes"], ensure_ascii=False) for r in rows])
    arrays.append([r["payload_hash"] for r in rows])
    arrays.append([r["status"] for r in rows])
    connection = await driver(session)
    found = await connection.fetch(INSERT_EVENTS, *arrays, now)
    return {record["external_id"]: record["id"] for record in found}


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
