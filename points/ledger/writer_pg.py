"""The ledger writer's PostgreSQL store: a whole expansion in one statement.

:func:`points.ledger.writer.post` works out the rows; here they travel as arrays
(``unnest``) through the asyncpg connection under the session (inside its
transaction) and one statement of ``WITH`` clauses writes them: far cheaper than a
row at a time, and one round trip whether it is a hold or a batch of awards.

Only the rows of postings whose transaction is new are written: every other clause
joins ``txn``, which returns nothing for a key that existed. Balances are locked in
account id order (``locked``) before they change, as every writer takes them, so
two writers cannot deadlock; scores and cap usage are added in key order.

A caller that writes rows of its own in the same statement (a redemption request)
takes the clauses from :func:`clauses` and adds its own after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.writer import Expanded
from points.pg import driver

# ledger_transaction's columns as ``Posting.transaction_row`` names them, with their types.
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

_TRANSACTIONS = """txn AS (
    INSERT INTO ledger_transaction ({names})
    SELECT * FROM unnest({arrays})
    ON CONFLICT (key) DO NOTHING
    RETURNING id, key
), entries AS (
    INSERT INTO ledger_entry (transaction_id, account_id, amount)
    SELECT txn.id, leg.account_id, leg.amount
    FROM txn JOIN unnest(${0}::varchar[], ${1}::int[], ${2}::int[])
        AS leg(key, account_id, amount) USING (key)
    RETURNING account_id, amount
), locked AS (
    SELECT account.id, change.delta
    FROM account JOIN (
        SELECT account_id, sum(amount)::int AS delta FROM entries GROUP BY account_id
    ) AS change ON change.account_id = account.id
    WHERE change.delta <> 0
    ORDER BY account.id
    FOR UPDATE OF account
), balances AS (
    UPDATE account SET balance = account.balance + locked.delta
    FROM locked WHERE account.id = locked.id
    RETURNING account.id
)"""

# Sums per (owner, period, period key) — or (person, rule, cap period) — of the new
# transactions' rows, added to what is there.
_TOTALS = """, {name} AS (
    INSERT INTO {table} ({columns}, points)
    SELECT row.a, row.b, row.c, sum(row.points)::int
    FROM txn JOIN unnest(${0}::varchar[], ${1}::int[], ${2}::varchar[], ${3}::varchar[],
        ${4}::int[]) AS row(key, a, b, c, points) USING (key)
    GROUP BY row.a, row.b, row.c
    HAVING sum(row.points) <> 0
    ORDER BY row.a, row.b, row.c
    ON CONFLICT ({columns}) DO UPDATE SET points = {table}.points + EXCLUDED.points
    RETURNING id
)"""

_TOTAL_TABLES = (
    ("person_scores", "period_score", "employee_id, period, period_key", "people"),
    ("department_scores", "department_score", "department_id, period, period_key", "departments"),
    ("cap_usage", "rule_cap_usage", "employee_id, rule_id, cap_period_key", "caps"),
)

# True once every clause has run to its end: a clause that adds this to its WHERE
# runs after the ledger rows are written (and the balances locked).
WRITTEN = " AND ".join(
    ["EXISTS (SELECT 1 FROM txn)"]
    + [f"(SELECT count(*) FROM {name}) >= 0" for name in ("balances", "person_scores")]
    + [f"(SELECT count(*) FROM {name}) >= 0" for name in ("department_scores", "cap_usage")]
)


@dataclass(frozen=True)
class Clauses:
    """The ``WITH`` clauses writing an expansion (``txn`` returns the new transactions'
    id and key), and their parameters, numbered from the ``first`` they were made with."""

    sql: str
    args: list[Any]


def _arrays(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[n] for row in rows] for n in range(width)]


def clauses(rows: Expanded, first: int = 1) -> Clauses:
    """The clauses writing ``rows``, their parameters numbered from ``$first``."""
    args: list[Any] = [[row[name] for row in rows.transactions] for name, _t in TRANSACTION_COLUMNS]
    arrays = ", ".join(
        f"${first + n}::{type_}[]" for n, (_name, type_) in enumerate(TRANSACTION_COLUMNS)
    )
    names = ", ".join(name for name, _type in TRANSACTION_COLUMNS)

    def numbered(template: str, width: int, **names_: str) -> str:
        start = first + len(args)
        return template.format(*(start + n for n in range(width)), **names_)

    sql = numbered(_TRANSACTIONS, 3, names=names, arrays=arrays)
    args += _arrays(rows.legs, 3)
    for name, table, columns, field in _TOTAL_TABLES:
        sql += numbered(_TOTALS, 5, name=name, table=table, columns=columns)
        args += _arrays(getattr(rows, field), 5)
    return Clauses(sql, args)


class PostgresStore:
    async def write(self, session: AsyncSession, rows: Expanded) -> list[tuple[int, str]]:
        statement = clauses(rows)
        connection = await driver(session)
        found = await connection.fetch(
            f"WITH {statement.sql} SELECT id, key FROM txn", *statement.args
        )
        return [(record["id"], record["key"]) for record in found]


POSTGRES = PostgresStore()
