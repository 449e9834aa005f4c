"""The "simulation" bench: a candidate rule set against the active one over stored events.

A throwaway PostgreSQL database (POINTS_BENCH_PG, default the local server) is
migrated and filled with COPY: employees in departments and scored activity
events of the default rules' types spread over 90 days. The figure is events/s
for the whole what-if (stream from the database, evaluate both rule sets, tally);
the baseline is reading the same rows through the same streaming query without
evaluating them. Goal: 1,000,000 stored events in under 60 s.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from points.db import Database
from points.devtools.bench import BenchResult
from points.devtools.bench.scratch import admin_sql as _admin
from points.devtools.bench.scratch import dsn as _dsn
from points.migrate import upgrade_async
from points.settings import Settings
from points.workbench.simulation import plain_iteration, simulate_stored, window_for
from rules import DEFAULT_RULES_PATH, compile_ruleset

DEFAULT_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432"
EMPLOYEES = 2000
DEPARTMENTS = ("行政部", "销售部", "财务部", "市场部", "技术部", "人事部", "客服部", "采购部")
CHUNK = 100_000


def _event(rng: random.Random, serial: int) -> tuple[str, dict[str, Any]]:
    kind = rng.random()
    if kind < 0.25:
        return "approval.submitted", {
            "template": rng.choice(["报销", "请假", "出差", "采购"]),
            "sp_no": f"sp{serial}",
            "on_time": rng.random() < 0.8,
        }
    if kind < 0.45:
        return "doc.shared", {"doc_id": f"d{rng.randrange(50_000)}"}
    if kind < 0.55:
        return "doc.created", {"doc_id": f"d{serial}"}
    if kind < 0.65:
        return "meeting.started", {"meeting_id": f"m{serial}", "attendees": rng.randrange(1, 9)}
    if kind < 0.85:
        return "checkin.recorded", {"on_time": rng.random() < 0.9}
    if kind < 0.92:
        return "customer.tagged", {"external_userid": f"wm{rng.randrange(20_000)}", "tag_count": 1}
    if kind < 0.96:
        return "customer.added", {"external_userid": f"wm{serial}"}
    return "approval.decided", {"sp_no": f"sp{serial}", "turnaround_hours": rng.random() * 10}


async def generate(conn: asyncpg.Connection, events: int, now: datetime, seed: int = 7) -> None:
    """Departments, employees and scored events, with COPY."""
    rng = random.Random(seed)
    await conn.copy_records_to_table(
        "department",
        records=[(i + 1, name, f"/{i + 1}/", i) for i, name in enumerate(DEPARTMENTS)],
        columns=["id", "name", "path", "sort_order"],
    )
    await conn.copy_records_to_table(
        "employee",
        records=[
            (
                i + 1,
                f"u{i + 1}",
                f"员工{i + 1}",
                1 + i % len(DEPARTMENTS),
                "",
                "active",
                False,
                False,
                now,
            )
            for i in range(EMPLOYEES)
        ],
        columns=[
            "id",
            "userid",
            "name",
            "department_id",
            "title",
            "status",
            "excluded",
            "board_opt_out",
            "created_at",
        ],
    )
    start = now - timedelta(days=90)
    step = timedelta(days=90) / max(events, 1)
    columns = [
        "source",
        "external_id",
        "type",
        "actor",
        "employee_id",
        "occurred_at",
        "attributes",
        "payload_hash",
        "received_at",
        "status",
        "attempts",
        "scored_at",
    ]
    for first in range(0, events, CHUNK):
        rows = []
        for serial in range(first, min(first + CHUNK, events)):
            person = 1 + int(rng.paretovariate(1.2)) % EMPLOYEES
            type_, attributes = _event(rng, serial)
            moment = start + step * serial
            rows.append(
                (
                    "bench",
                    f"e{serial}",
                    type_,
                    f"u{person}",
                    person,
                    moment,
                    json.dumps(attributes, ensure_ascii=False),
                    "0" * 64,
                    moment,
                    "scored",
                    1,
                    moment,
                )
            )
        await conn.copy_records_to_table("activity_event", records=rows, columns=columns)
    await conn.execute("ANALYZE activity_event")


async def run(quick: bool) -> BenchResult:
    events = int(os.environ.get("POINTS_BENCH_SIM_EVENTS", 50_000 if quick else 1_000_000))
    base = os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE).rstrip("/")
    name = f"points_bench_sim_{uuid.uuid4().hex[:10]}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        await upgrade_async(url)
        now = datetime.now(UTC)
        conn = await asyncpg.connect(_dsn(url), timeout=10)
        try:
            started = time.perf_counter()
            await generate(conn, events, now)
            generate_seconds = time.perf_counter() - started
        finally:
            await conn.close()
        settings = Settings(DATABASE_URL=url)
        zone = settings.zone
        default = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
        active = compile_ruleset(default, version=1)
        candidate = compile_ruleset(
            default.replace(
                "  when: doc.shared\n  points: 3\n", "  when: doc.shared\n  points: 6\n"
            ),
            version=2,
        )
        window = window_for(zone, days=91, now=now + timedelta(seconds=1))
        db = Database(settings)
        try:
            async with db.session() as session:
                started = time.perf_counter()
                rows = await session.run_sync(lambda s: plain_iteration(s, window))
                baseline_seconds = time.perf_counter() - started
            async with db.session() as session:
                started = time.perf_counter()
                report = await simulate_stored(session, candidate, active, window, zone)
                seconds = time.perf_counter() - started
        finally:
            await db.dispose()
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return BenchResult(
        name="simulation",
        unit="events/s",
        figure=round(report.events / seconds, 1),
        baseline=round(rows / baseline_seconds, 1),
        baseline_name="the same rows streamed without evaluation",
        goal="1,000,000 stored events simulated in under 60 s",
        details={
            "events": report.events,
            "seconds": round(seconds, 2),
            "baseline_seconds": round(baseline_seconds, 2),
            "seconds_per_million": round(seconds / max(report.events, 1) * 1_000_000, 1),
            "awards_active": report.awards_active,
            "awards_candidate": report.awards_candidate,
            "inflation": report.inflation,
            "generate_seconds": round(generate_seconds, 1),
            "database": "postgresql",
        },
    )
