"""PostgreSQL fast path for a redemption request: everything it writes, in one statement.

A request writes the redemption, the first line of its timeline, an audit row, a
notice to the person, the ledger hold and takes the unit of stock. Flushed by the
session one INSERT at a time, that was most of a request's time; here one statement
writes it all through the asyncpg connection under the session (inside its
transaction). The rows are the ones the session path writes
(``redeem._write_request`` with ``one_statement=False``, the path SQLite takes):
the hold's are the ledger writer's own clauses (:mod:`points.ledger.writer_pg`),
the others are the objects their modules build (the timeline step, the audit
entry, the outbox message); the tests compare the two paths.

The stock is taken last — its clause waits for every other one — so the hot reward
row stays locked only from there to the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger import writer_pg
from points.ledger.service import AccountRef, Posting
from points.ledger.writer import accounts_of, expand
from points.pg import driver, insert_clauses
from points.rewards.models import Redemption

_STOCK = """, stock AS (
    UPDATE reward SET stock = stock - 1
    WHERE id = ${reward}::int AND stock > 0 AND ${take}::boolean AND {written}
    RETURNING id
)"""

TAKE_STOCK = "UPDATE reward SET stock = stock - 1 WHERE id = $1 AND stock > 0"


async def write_request(
    session: AsyncSession,
    redemption: Redemption,
    hold: Posting,
    known: Mapping[AccountRef, int],
    zone: tzinfo,
    rows: Sequence[tuple[str, SQLModel]],
    *,
    take_stock: bool,
) -> bool:
    """Write the request (its id already drawn), its hold and ``rows`` (name, object);
    take a unit of stock when ``take_stock``. Returns whether a unit was taken."""
    ledger = writer_pg.clauses(expand([hold], await accounts_of(session, [hold], known), zone))
    own_rows = [("redemption_row", redemption), *rows]
    own, own_args = insert_clauses(own_rows, first=len(ledger.args) + 1)
    args = [*ledger.args, *own_args, redemption.reward_id, take_stock]
    written = " AND ".join(
        [writer_pg.WRITTEN, *(f"EXISTS (SELECT 1 FROM {name})" for name, _row in own_rows)]
    )
    stock = _STOCK.format(reward=len(args) - 1, take=len(args), written=written)
    connection = await driver(session)
    transaction_id, taken = await connection.fetchrow(
        f"WITH {ledger.sql}{own}{stock} SELECT (SELECT id FROM txn), (SELECT count(*) FROM stock)",
        *args,
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
