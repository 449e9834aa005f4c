"""The scoring bench's baseline: the same rows, hand-written as batched SQL.

Scoring writes, per event, the event and its status, and per award a ledger
transaction, its two entries, two balance changes, six period scores of the
person and six of their department, and the rule's cap usage. The baseline reads
exactly those rows back from the database scoring wrote, then writes them again
into a copy of the database as it was before scoring (same schema, same company)
with the fewest statements one would write by hand: arrays through ``unnest``, one
statement per table, one transaction per batch of 1,000 events. Everything it
needs is prepared before the clock starts, so it is the best case scoring is
compared with.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from points.calendar import keys_at

EVENTS = """
INSERT INTO activity_event (source, external_id, type, actor, employee_id, occurred_at,
    attributes, payload_hash, status, received_at, attempts)
SELECT *, 'pending', $9::timestamptz, 0 FROM unnest($1::varchar[], $2::varchar[],
    $3::varchar[], $4::varchar[], $5::int[], $6::timestamptz[], $7::json[], $8::varchar[])
RETURNING id
"""
SCORED = """
UPDATE activity_event SET status = 'scored', scored_at = $2, attempts = attempts + 1
WHERE id = ANY($1::int[])
"""
TRANSACTIONS = """
INSERT INTO ledger_transaction (key, kind, employee_id, department_id, points, effective_at,
    created_at, event_id, rule_id, rule_version, cap_period_key, once_value, badge, author,
    reason, reason_en)
SELECT t.key, t.kind, t.employee_id, t.department_id, t.points, t.effective_at, $15, e.id,
    t.rule_id, t.rule_version, t.cap_period_key, t.once_value, t.badge, 'system', t.reason,
    t.reason_en
FROM unnest($1::varchar[], $2::varchar[], $3::int[], $4::int[], $5::int[],
    $6::timestamptz[], $7::int[], $8::varchar[], $9::int[], $10::varchar[], $11::varchar[],
    $12::varchar[], $13::varchar[], $14::varchar[])
    AS t(key, kind, employee_id, department_id, points, effective_at, event, rule_id,
        rule_version, cap_period_key, once_value, badge, reason, reason_en)
JOIN unnest($16::int[]) WITH ORDINALITY AS e(id, n) ON e.n = t.event
RETURNING id, key
"""
ENTRIES = """
INSERT INTO ledger_entry (transaction_id, account_id, amount)
SELECT t.id, l.account_id, l.amount
FROM unnest($1::varchar[], $2::int[], $3::int[]) AS l(key, account_id, amount)
JOIN unnest($4::int[], $5::varchar[]) AS t(id, key) USING (key)
"""
BALANCES = """
UPDATE account SET balance = account.balance + d.delta
FROM unnest($1::int[], $2::int[]) AS d(id, delta) WHERE account.id = d.id
"""
TOTALS = """
INSERT INTO {table} ({columns}, points)
SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::int[])
ON CONFLICT ({columns}) DO UPDATE SET points = {table}.points + EXCLUDED.points
"""
TABLES = (
    ("period_score", "employee_id, period, period_key"),
    ("department_score", "department_id, period, period_key"),
    ("rule_cap_usage", "employee_id, rule_id, cap_period_key"),
)


@dataclass
class Batch:
    """One batch's rows, as the arrays the statements take."""

    events: list[list[Any]] = field(default_factory=lambda: [[] for _ in range(8)])
    transactions: list[list[Any]] = field(default_factory=lambda: [[] for _ in range(14)])
    entries: list[list[Any]] = field(default_factory=lambda: [[] for _ in range(3)])
    balances: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    totals: list[dict[tuple[Any, ...], int]] = field(
        default_factory=lambda: [defaultdict(int) for _ in TABLES]
    )


async def prepare(
    scored: Any, fresh: Any, batch_size: int, zone: tzinfo, after: int = 0
) -> list[Batch]:
    """Read what scoring wrote (``scored``) for the events after id ``after``, make the
    accounts in ``fresh``, and cut the rows into batches of ``batch_size`` events."""
    events = await scored.fetch(
        "SELECT id, source, external_id, type, actor, employee_id, occurred_at,"
        " attributes::text, payload_hash FROM activity_event WHERE id > $1 ORDER BY id",
        after,
    )
    await fresh.execute(
        "INSERT INTO account (employee_id, kind, balance)"
        " SELECT *, 0 FROM unnest($1::int[], $2::varchar[]) ON CONFLICT DO NOTHING",
        *zip(
            *(
                (r["employee_id"], r["kind"])
                for r in await scored.fetch("SELECT employee_id, kind FROM account ORDER BY id")
            ),
            strict=True,
        ),
    )
    accounts = {
        (r["employee_id"], r["kind"]): r["id"]
        for r in await fresh.fetch("SELECT id, employee_id, kind FROM account")
    }
    batch_of: dict[int, tuple[Batch, int]] = {}  # event id → its batch, its place in it
    batches: list[Batch] = []
    for n, event in enumerate(events):
        if n % batch_size == 0:
            batches.append(Batch())
        batch = batches[-1]
        for column, value in zip(batch.events, list(event.values())[1:], strict=True):
            column.append(value)
        batch_of[event["id"]] = (batch, n % batch_size + 1)
    transactions = await scored.fetch(
        "SELECT id, key, kind, employee_id, department_id, points, effective_at, event_id,"
        " rule_id, rule_version, cap_period_key, once_value, badge, reason, reason_en"
        " FROM ledger_transaction WHERE event_id > $1 ORDER BY id",
        after,
    )
    place: dict[int, tuple[Batch, str]] = {}  # transaction id → its batch, its key
    for t in transactions:
        batch, event = batch_of[t["event_id"]]
        values = [*list(t.values())[1:7], event, *list(t.values())[8:]]
        for column, value in zip(batch.transactions, values, strict=True):
            column.append(value)
        place[t["id"]] = (batch, t["key"])
    for e in await scored.fetch(
        "SELECT e.transaction_id, a.employee_id, a.kind, e.amount FROM ledger_entry e"
        " JOIN account a ON a.id = e.account_id JOIN ledger_transaction t"
        " ON t.id = e.transaction_id WHERE t.event_id > $1 ORDER BY e.id",
        after,
    ):
        batch, key = place[e["transaction_id"]]
        account = accounts[(e["employee_id"], e["kind"])]
        for column, value in zip(batch.entries, (key, account, e["amount"]), strict=True):
            column.append(value)
        batch.balances[account] += e["amount"]
    await _score_rows(scored, place, zone, after)
    return batches


async def _score_rows(
    scored: Any, place: dict[int, tuple[Batch, str]], zone: tzinfo, after: int
) -> None:
    """Each new transaction's period scores and cap usage, as scoring adds them."""
    for t in await scored.fetch(
        "SELECT id, employee_id, department_id, points, effective_at, rule_id, cap_period_key"
        " FROM ledger_transaction WHERE event_id > $1",
        after,
    ):
        batch, _key = place[t["id"]]
        for period, key in keys_at(t["effective_at"], zone):
            batch.totals[0][(t["employee_id"], period.value, key)] += t["points"]
            if t["department_id"] is not None:
                batch.totals[1][(t["department_id"], period.value, key)] += t["points"]
        if t["cap_period_key"]:
            batch.totals[2][(t["employee_id"], t["rule_id"], t["cap_period_key"])] += t["points"]


async def write(fresh: Any, batches: list[Batch]) -> float:
    """Seconds to write every batch, one transaction each."""
    started = time.perf_counter()
    for batch in batches:
        now = datetime.now(UTC)
        async with fresh.transaction():
            ids = [r["id"] for r in await fresh.fetch(EVENTS, *batch.events, now)]
            await fresh.execute(SCORED, ids, now)
            made = await fresh.fetch(TRANSACTIONS, *batch.transactions, now, ids)
            await fresh.execute(
                ENTRIES, *batch.entries, [r["id"] for r in made], [r["key"] for r in made]
            )
            changes = sorted((a, d) for a, d in batch.balances.items() if d)
            await fresh.execute(BALANCES, [a for a, _d in changes], [d for _a, d in changes])
            for (table, columns), totals in zip(TABLES, batch.totals, strict=True):
                rows = sorted((*k, v) for k, v in totals.items() if v)
                await fresh.execute(
                    TOTALS.format(table=table, columns=columns),
                    *([row[n] for row in rows] for n in range(4)),
                )
    return time.perf_counter() - started


# What both databases must hold afterwards: the same rows, told apart by what they mean.
SAME_ROWS = (
    "SELECT source, external_id, status, attempts FROM activity_event",
    "SELECT key, kind, points, effective_at, rule_id, cap_period_key, reason"
    " FROM ledger_transaction",
    "SELECT t.key, a.employee_id, a.kind, e.amount FROM ledger_entry e"
    " JOIN ledger_transaction t ON t.id = e.transaction_id JOIN account a ON a.id = e.account_id",
    "SELECT employee_id, kind, balance FROM account",
    "SELECT employee_id, period, period_key, points FROM period_score",
    "SELECT department_id, period, period_key, points FROM department_score",
    "SELECT employee_id, rule_id, cap_period_key, points FROM rule_cap_usage",
)


async def differences(scored: Any, fresh: Any) -> list[str]:
    """The queries of :data:`SAME_ROWS` whose rows differ between the two databases."""
    differ = []
    for query in SAME_ROWS:
        ordered = f"{query} ORDER BY 1, 2, 3"
        if [tuple(r) for r in await scored.fetch(ordered)] != [
            tuple(r) for r in await fresh.fetch(ordered)
        ]:
            differ.append(query)
    return differ


class Baseline:
    """Follows scoring batch by batch: after each, writes what it wrote into the copy.

    Interleaved, scoring and the baseline share whatever else the machine is doing at
    that moment, so their ratio is steadier than two runs one after the other.
    """

    def __init__(self, scored: Any, fresh: Any, batch_size: int, zone: tzinfo) -> None:
        self.scored, self.fresh, self.batch_size, self.zone = scored, fresh, batch_size, zone
        self.seconds = 0.0
        self.events = 0
        self.last_event = 0

    @classmethod
    async def connect(
        cls, scored_dsn: str, fresh_dsn: str, batch_size: int, zone: tzinfo
    ) -> Baseline:
        scored = await asyncpg.connect(scored_dsn, timeout=10)
        fresh = await asyncpg.connect(fresh_dsn, timeout=10)
        return cls(scored, fresh, batch_size, zone)

    async def follow(self) -> None:
        """Write (timed) the rows of the events scoring stored since the last call."""
        batches = await prepare(
            self.scored, self.fresh, self.batch_size, self.zone, self.last_event
        )
        self.seconds += await write(self.fresh, batches)
        self.events += sum(len(b.events[0]) for b in batches)
        self.last_event = await self.scored.fetchval(
            "SELECT coalesce(max(id), 0) FROM activity_event"
        )

    async def close(self) -> None:
        """Check the two databases hold the same rows, then disconnect."""
        try:
            differ = await differences(self.scored, self.fresh)
            if differ:
                raise AssertionError(f"the baseline wrote other rows than scoring: {differ}")
        finally:
            await self.scored.close()
            await self.fresh.close()
