"""The "scoring throughput" bench: events/s from intake to committed ledger entries.

A throwaway PostgreSQL database (``POINTS_BENCH_PG``, default the local server) is
created, migrated and dropped. Events with the default rules go through the real
path, in one process: ``ingest`` in batches of 1,000, commit, and the scoring job
run inline (the embedded queue). The baseline, in the same run, writes the same
rows into the same schema — the events and their statuses, the transactions, their
entries, the balances, the period and department scores and the cap usage — with
hand-written batched SQL, one transaction per batch of 1,000 events
(:mod:`points.devtools.bench.scoring_baseline`), each batch right after scoring's (the two
share the machine's load of the moment); its figure is the same event count divided
by the summed time. The ledger rows written with plain INSERTs into scratch tables (no
balances, scores or caps) stay as an informational figure.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from sqlmodel import func, select

from points.db import Database
from points.devtools.bench import BenchResult, scoring_baseline
from points.devtools.bench.scratch import admin_sql as _admin
from points.devtools.bench.scratch import dsn as _dsn
from points.devtools.demo.company import build_company
from points.events.schemas import EventIn
from points.events.service import MAX_BATCH, ingest
from points.jobs import InlineQueue, commit
from points.ledger.models import LedgerEntry, LedgerTransaction
from points.migrate import upgrade_async
from points.org.models import Employee
from points.settings import Settings

DEFAULT_BASE = "postgresql://postgres@127.0.0.1:5432"
ZONE = ZoneInfo("Asia/Shanghai")
INSERT_BATCH = 1000

SCRATCH_TABLES = """
CREATE TABLE bench_transaction (
    id BIGSERIAL PRIMARY KEY,
    key VARCHAR(200) NOT NULL UNIQUE,
    kind VARCHAR(16) NOT NULL,
    employee_id INTEGER NOT NULL,
    department_id INTEGER,
    points INTEGER NOT NULL,
    effective_at TIMESTAMPTZ NOT NULL,
    event_id INTEGER,
    rule_id VARCHAR(80),
    rule_version INTEGER,
    reason VARCHAR(500) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE bench_entry (
    id BIGSERIAL PRIMARY KEY,
    transaction_id BIGINT NOT NULL REFERENCES bench_transaction (id),
    account_id INTEGER NOT NULL,
    amount INTEGER NOT NULL
);
CREATE INDEX ix_bench_entry_transaction ON bench_entry (transaction_id);
CREATE INDEX ix_bench_entry_account ON bench_entry (account_id);
"""


KINDS = (
    "approval.submitted",
    "doc.shared",
    "checkin.recorded",
    "meeting.started",
    "customer.added",
    "customer.tagged",
    "doc.created",
    "approval.decided",
)
WEIGHTS = (20, 20, 25, 8, 8, 7, 7, 5)


def _attributes(kind: str, n: int, rng: random.Random) -> dict[str, Any]:
    if kind == "approval.submitted":
        return {"template": "报销", "sp_no": f"SP{n}", "on_time": True}
    if kind == "doc.shared":
        return {"doc_id": f"doc{n % 97}"}
    if kind == "checkin.recorded":
        return {"on_time": rng.random() < 0.9}
    if kind == "meeting.started":
        return {"meeting_id": f"m{n}", "attendees": rng.randint(1, 8)}
    if kind == "customer.added":
        return {"external_userid": f"wm{n}"}
    if kind == "customer.tagged":
        return {"external_userid": f"wm{n}", "tag_count": 1}
    if kind == "doc.created":
        return {"doc_id": f"d{n}"}
    return {"sp_no": f"SP{n}", "turnaround_hours": rng.randint(1, 8)}


def activity(userids: list[str], count: int, seed: int = 7) -> list[EventIn]:
    """A believable mix of WeCom activity over 90 days, for the default rules."""
    rng = random.Random(seed)
    start = datetime(2026, 9, 1, 8, 0, tzinfo=ZONE)
    events: list[EventIn] = []
    for n in range(count):
        actor = rng.choice(userids)
        when = start + timedelta(days=rng.randrange(90), minutes=rng.randrange(11 * 60))
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        attributes = _attributes(kind, n, rng)
        events.append(
            EventIn(
                external_id=f"{kind}:{n}",
                type=kind,
                actor=actor,
                occurred_at=when,
                attributes=attributes,
            )
        )
    return events


async def _score_everything(
    settings: Settings, events: list[EventIn], baseline: scoring_baseline.Baseline
) -> tuple[float, int, int]:
    """Seconds from intake to committed entries, summed over the batches (the baseline
    follows each batch, off the clock); transactions, entries."""
    db = Database(settings)
    queue = InlineQueue(settings, db)
    try:
        elapsed = 0.0
        for start in range(0, len(events), MAX_BATCH):
            started = time.perf_counter()
            async with db.session() as session:
                await ingest(session, "bench", events[start : start + MAX_BATCH])
                await commit(session, queue)  # scoring runs inline, after commit
            elapsed += time.perf_counter() - started
            await baseline.follow()
        async with db.session() as session:
            transactions = (
                await session.exec(select(func.count()).select_from(LedgerTransaction))
            ).one()
            entries = (await session.exec(select(func.count()).select_from(LedgerEntry))).one()
    finally:
        await db.dispose()
    return elapsed, int(transactions), int(entries)


async def _plain_inserts(url: str, transactions: int, entries: int) -> float:
    """Seconds to write the same ledger rows with batched INSERTs (executemany)."""
    conn = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        await conn.execute(SCRATCH_TABLES)
        legs = max(1, round(entries / max(transactions, 1)))
        now = datetime.now(UTC)
        started = time.perf_counter()
        for start in range(0, transactions, INSERT_BATCH):
            size = min(INSERT_BATCH, transactions - start)
            async with conn.transaction():
                ids = await conn.fetch(
                    "INSERT INTO bench_transaction (key, kind, employee_id, department_id, "
                    "points, effective_at, event_id, rule_id, rule_version, reason) "
                    "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], "
                    "$5::int[], $6::timestamptz[], $7::int[], $8::text[], $9::int[], $10::text[]) "
                    "RETURNING id",
                    [f"award:{start + i}:rule:1" for i in range(size)],
                    ["award"] * size,
                    [1 + (start + i) % 300 for i in range(size)],
                    [2] * size,
                    [3] * size,
                    [now] * size,
                    [start + i for i in range(size)],
                    ["doc-shared"] * size,
                    [1] * size,
                    ["分享文档"] * size,
                )
                await conn.executemany(
                    "INSERT INTO bench_entry (transaction_id, account_id, amount) "
                    "VALUES ($1, $2, $3)",
                    [
                        (row["id"], 1 + leg * 1000 + row["id"] % 300, 3 if leg else -3)
                        for row in ids
                        for leg in range(legs)
                    ],
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(quick: bool) -> BenchResult:
    count = int(os.environ.get("POINTS_BENCH_SCORING_EVENTS", 5_000 if quick else 50_000))
    base = _dsn(os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE))
    name = f"points_bench_{uuid.uuid4().hex[:10]}"
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    try:
        await upgrade_async(url)
        settings = Settings(DATABASE_URL=url)
        db = Database(settings)
        try:
            async with db.session() as session:
                await build_company(session, employees=300)
                await session.commit()
            async with db.session() as session:
                userids = list((await session.exec(select(Employee.userid))).all())
        finally:
            await db.dispose()
        # The company before any event: the baseline writes into a copy of it.
        await _admin(base, f'CREATE DATABASE "{name}_same" TEMPLATE "{name}"')
        events = activity(userids, count)
        baseline = await scoring_baseline.Baseline.connect(
            f"{base}/{name}", f"{base}/{name}_same", MAX_BATCH, settings.zone
        )
        try:
            scoring_seconds, transactions, entries = await _score_everything(
                settings, events, baseline
            )
        finally:
            await baseline.close()
        baseline_seconds = baseline.seconds
        assert baseline.events == count, (baseline.events, count)
        plain_seconds = await _plain_inserts(url, transactions, entries)
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}_same" WITH (FORCE)')
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return BenchResult(
        name="scoring throughput",
        unit="events/s",
        figure=round(count / scoring_seconds, 1),
        baseline=round(count / baseline_seconds, 1),
        baseline_name=(
            "the same rows (events and statuses, transactions, entries, balances, period"
            " and department scores, cap usage) written with hand-batched SQL"
        ),
        goal="at least 0.5 of the baseline",
        details={
            "events": count,
            "transactions": transactions,
            "entries": entries,
            "scoring_seconds": round(scoring_seconds, 2),
            "baseline_seconds": round(baseline_seconds, 3),
            "plain_insert_events_per_s": round(count / plain_seconds, 1),
            "plain_insert_note": "informational: transactions and entries only, scratch tables",
            "database": "postgresql",
            "path": "ingest batches of 1,000 → commit → score_events inline",
        },
    )
