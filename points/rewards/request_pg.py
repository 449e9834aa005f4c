"""PostgreSQL fast path for a redemption request: everything it writes, in one statement.

A request writes the redemption, the first line of its timeline, an audit row, a
notice to the person, the ledger hold (:mod:`points.ledger.holds`) and takes the
unit of stock. Built as ORM objects and flushed one INSERT at a time, that was most
of a request's time; here one statement writes it all through the asyncpg
connection under the session (inside its transaction). The rows are the ones the
session path writes (``redeem._write_request`` with ``one_statement=False``, the
path SQLite takes); the tests compare the two.

The stock is taken last — its clause waits for every other one — so the hot reward
row stays locked only from there to the commit, as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.ledger.bulk_pg import driver
from points.ledger.holds import posting_clauses
from points.ledger.service import AccountRef, Posting
from points.rewards.models import Redemption

# $1–$19 are the request's own values; the hold's clauses are numbered after them.
REQUEST = """
WITH {hold}, redemption_row AS (
    INSERT INTO redemption (
        id, reward_id, employee_id, department_id, price, status, idempotency_key,
        requested_at, requested_by, expires_at, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '')
    RETURNING id
), step AS (
    INSERT INTO redemption_step (redemption_id, status, at, actor, note)
    VALUES ($1, $6, $8, $9, '')
    RETURNING id
), audit AS (
    INSERT INTO audit_entry (at, actor, action, target, details, ip, user_agent)
    VALUES ($11, $12, 'redemption.request', 'redemption:' || $1::int, $13::json, $14, $15)
    RETURNING id
), notice AS (
    INSERT INTO notification (userid, kind, title, body, url, created_at, attempts)
    VALUES ($16, $17, $18, $19, '/rewards/mine/' || $1::int, $11, 0)
    RETURNING id
), stock AS (
    UPDATE reward SET stock = stock - 1
    WHERE id = $2 AND stock > 0 AND $20::boolean
      AND EXISTS (SELECT 1 FROM redemption_row) AND EXISTS (SELECT 1 FROM step)
      AND EXISTS (SELECT 1 FROM audit) AND EXISTS (SELECT 1 FROM notice)
      AND EXISTS (SELECT 1 FROM {last})
    RETURNING id
)
SELECT (SELECT id FROM txn), (SELECT count(*) FROM stock)
"""
_OWN = 20

TAKE_STOCK = "UPDATE reward SET stock = stock - 1 WHERE id = $1 AND stock > 0"


async def write_request(
    session: AsyncSession,
    redemption: Redemption,
    hold: Posting,
    accounts: Mapping[AccountRef, int],
    *,
    actor: str,
    ip: str,
    user_agent: str,
    details: dict[str, Any],
    userid: str,
    title: str,
    body: str,
    take_stock: bool,
) -> bool:
    """Write the request (its id already drawn) and its hold; take a unit of stock when
    ``take_stock``. Returns whether a unit was taken.

    Strings are cut to their columns' lengths as ``record`` and ``notify`` cut them.
    """
    clauses = await posting_clauses(session, hold, accounts, first=_OWN + 1)
    connection = await driver(session)
    status = str(redemption.status)
    transaction_id, taken = await connection.fetchrow(
        REQUEST.format(hold=clauses.sql, last=clauses.last),
        redemption.id,
        redemption.reward_id,
        redemption.employee_id,
        redemption.department_id,
        redemption.price,
        status,
        redemption.idempotency_key,
        redemption.requested_at,
        redemption.requested_by,
        redemption.expires_at,
        utcnow(),
        actor[:96],
        json.dumps(details),
        ip[:64],
        user_agent[:256],
        userid[:64],
        f"redemption.{status}"[:48],
        title[:200],
        body[:2000],
        take_stock,
        *clauses.args,
    )
    if transaction_id is None:
        # The id was new from the sequence, so its hold cannot exist: the books are off.
        raise RuntimeError(f"ledger transaction {hold.key} exists already")
    return bool(taken)


async def take_stock(session: AsyncSession, reward_id: int) -> bool:
    """The conditional UPDATE of the reward's stock; False when none is left."""
    connection = await driver(session)
    status: str = await connection.execute(TAKE_STOCK, reward_id)
    return status == "UPDATE 1"
