"""One posting that only moves points between accounts, in one statement (PostgreSQL).

A redemption's hold (available → held) touches no period score and no cap: it is a
transaction, its entries and two balance changes. Here they are ``WITH`` clauses of
a single statement — one round trip instead of four — writing exactly the rows
:func:`points.ledger.service.post` writes: the transaction unique by key (a repeat
is a no-op: no entries, no balance change), balanced entries, and the balances
changed in the same database transaction. :func:`post_one` runs them alone;
:func:`posting_clauses` lets a caller put them in a statement of its own (a
redemption request writes its rows and the hold together). Postings that count as
earnings or against a cap, and SQLite, go through :func:`post`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.ledger import bulk_pg
from points.ledger.models import CAP_KINDS, EARNING_KINDS
from points.ledger.service import AccountRef, Posting, account_ids, is_postgres, post

_TRANSACTION = """txn AS (
    INSERT INTO ledger_transaction ({columns})
    VALUES ({values})
    ON CONFLICT (key) DO NOTHING
    RETURNING id
), entries AS (
    INSERT INTO ledger_entry (transaction_id, account_id, amount)
    SELECT txn.id, leg.account_id, leg.amount
    FROM txn, unnest(${accounts}::int[], ${amounts}::int[]) AS leg(account_id, amount)
    RETURNING id
)"""

# Each balance change waits for the clause before it (it reads its RETURNING), so the
# rows are locked in account id order, as every other writer takes them; nothing
# changes when the transaction's key existed (no entries were written).
_BALANCE = """, balance_{n} AS (
    UPDATE account SET balance = balance + ${delta}::int
    WHERE id = ${account}::int AND EXISTS (SELECT 1 FROM {previous})
    RETURNING id
)"""

# The transaction's columns, then the legs' accounts and amounts.
_PARAMETERS = len(bulk_pg.TRANSACTION_COLUMNS) + 2


@dataclass(frozen=True)
class Clauses:
    """A posting as ``WITH`` clauses: ``txn`` returns the new transaction's id (no row
    when the key existed); ``last`` names the clause that finishes last, for clauses
    that should run after the balances changed."""

    sql: str
    args: list[Any]
    last: str


def is_movement(session: AsyncSession, posting: Posting) -> bool:
    """True when :func:`posting_clauses` can write the posting (PostgreSQL, and no
    period score or cap to add)."""
    return (
        is_postgres(session)
        and posting.kind not in EARNING_KINDS
        and posting.kind not in CAP_KINDS
        and bool(posting.legs)
    )


async def posting_clauses(
    session: AsyncSession,
    posting: Posting,
    known: Mapping[AccountRef, int] | None = None,
    first: int = 1,
) -> Clauses:
    """The clauses writing ``posting``, their parameters numbered from ``$first``.

    ``known`` are account ids the caller has just read (under its lock); the other
    accounts are found, or created, by :func:`account_ids`.
    """
    if not is_movement(session, posting):
        raise ValueError(f"{posting.kind} postings go through ledger.service.post")
    found = dict(known or {})
    missing = [ref for ref, _amount in posting.legs if ref not in found]
    if missing:
        found.update(await account_ids(session, missing))
    legs = [(found[ref], amount) for ref, amount in posting.legs]
    deltas: dict[int, int] = {}
    for account_id, amount in legs:
        deltas[account_id] = deltas.get(account_id, 0) + amount
    changes = sorted((a, d) for a, d in deltas.items() if d)
    columns = len(bulk_pg.TRANSACTION_COLUMNS)
    sql = [
        _TRANSACTION.format(
            columns=bulk_pg.TRANSACTION_NAMES,
            values=", ".join(f"${n}" for n in range(first, first + columns)),
            accounts=first + columns,
            amounts=first + columns + 1,
        )
    ]
    previous = "entries"
    for n in range(len(changes)):
        account = first + _PARAMETERS + 2 * n
        sql.append(_BALANCE.format(n=n, account=account, delta=account + 1, previous=previous))
        previous = f"balance_{n}"
    row = posting.transaction_row(utcnow())
    args: list[Any] = [row[name] for name, _type in bulk_pg.TRANSACTION_COLUMNS]
    args += [[a for a, _m in legs], [m for _a, m in legs]]
    for account_id, delta in changes:
        args += [account_id, delta]
    return Clauses("".join(sql), args, previous)


async def post_one(
    session: AsyncSession,
    posting: Posting,
    zone: tzinfo,
    known: Mapping[AccountRef, int] | None = None,
) -> int | None:
    """Write the posting unless its key exists; return the new transaction's id or None."""
    if not is_movement(session, posting):
        ids = await post(session, [posting], zone)
        return ids[0] if ids else None
    clauses = await posting_clauses(session, posting, known)
    connection = await bulk_pg.driver(session)
    transaction_id: int | None = await connection.fetchval(
        f"WITH {clauses.sql} SELECT id FROM txn", *clauses.args
    )
    return transaction_id
