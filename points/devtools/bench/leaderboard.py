"""The "leaderboard" bench: top 50 + me ± 2 from period scores vs GROUP BY over the entries.

A throwaway PostgreSQL database is created and migrated, filled with COPY
(employees, accounts, award transactions with two entries each), the period scores
are derived from those same transactions in SQL (so they agree with the entries by
construction), and both ways of answering are timed in the same run. The answers
are compared, so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]

from points.boards import leaderboard as board_leaderboard
from points.boards import windows as board_windows
from points.calendar import bounds, key_at
from points.db import Database
from points.devtools.bench import BenchResult
from points.devtools.bench.scratch import admin_sql as _admin
from points.devtools.bench.scratch import dsn as _dsn
from points.ledger.models import Period
from points.migrate import upgrade_async
from points.settings import Settings

DEFAULT_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432"
ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
TOP = 50
CHUNK = 100_000
POINT_CHOICES = (1, 1, 2, 2, 3, 3, 5, 5, 10, 20)

# The board as the ledger alone would answer it: sum the person's available-account
# legs of earning transactions in the window, rank everyone, keep top 50 + me ± 2.
NAIVE_SQL = """
WITH earned AS (
    SELECT a.employee_id, SUM(le.amount) AS points
    FROM ledger_entry le
    JOIN account a ON a.id = le.account_id AND a.kind = 'available'
    JOIN ledger_transaction t ON t.id = le.transaction_id
    JOIN employee e ON e.id = a.employee_id
    WHERE t.kind IN ('award', 'reversal', 'adjustment', 'backapply')
      AND t.effective_at >= $1 AND t.effective_at < $2
      AND NOT e.excluded AND e.status = 'active'
    GROUP BY a.employee_id
    HAVING SUM(le.amount) > 0
), ranked AS (
    SELECT employee_id, points,
           RANK() OVER (ORDER BY points DESC) AS rank,
           ROW_NUMBER() OVER (ORDER BY points DESC, employee_id) AS position
    FROM earned
), me AS (SELECT position FROM ranked WHERE employee_id = $3)
SELECT employee_id, points, rank FROM ranked
WHERE position <= $4
   OR position BETWEEN (SELECT position FROM me) - 2 AND (SELECT position FROM me) + 2
ORDER BY position
"""


async def generate(
    conn: asyncpg.Connection, employees: int, entries: int, now: datetime, seed: int = 7
) -> dict[str, float]:
    """Fill the database with COPY; seconds spent per step."""
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Bulk load: skip per-row foreign-key triggers (every id below is generated consistent).
    await conn.execute("SET session_replication_role = replica")
    divisions, teams = 20, 400
    departments: list[tuple[int, str, int | None, str, int]] = [(1, "公司", None, "/1/", 0)]
    for d in range(divisions):
        departments.append((100 + d, f"事业部{d}", 1, f"/1/{100 + d}/", d))
    for t in range(teams):
        parent = 100 + t % divisions
        departments.append((1000 + t, f"小组{t}", parent, f"/1/{parent}/{1000 + t}/", t))
    await conn.copy_records_to_table(
        "department",
        records=departments,
        columns=["id", "name", "parent_id", "path", "sort_order"],
    )
    created = now - timedelta(days=400)
    people = []
    for i in range(1, employees + 1):
        roll = rng.random()
        people.append(
            (
                i,
                f"u{i}",
                f"员工{i}",
                1000 + rng.randrange(teams),
                "",
                "left" if roll < 0.02 else "active",
                roll > 0.995,  # excluded: bots and admins
                0.02 <= roll < 0.05,  # opted out of public boards
                created,
            )
        )
    await conn.copy_records_to_table(
        "employee",
        records=people,
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
    timings["employees"] = time.perf_counter() - started

    started = time.perf_counter()
    issuance = employees + 1
    transactions = entries // 2
    balances = [0] * (employees + 1)
    span = 365 * 86400
    # Most activity is recent: weigh the timestamps towards now.
    columns = [
        "id",
        "key",
        "kind",
        "employee_id",
        "department_id",
        "points",
        "effective_at",
        "created_at",
        "rule_id",
        "rule_version",
        "author",
        "reason",
        "reason_en",
    ]
    entry_id = 1
    for start in range(1, transactions + 1, CHUNK):
        stop = min(transactions + 1, start + CHUNK)
        txns = []
        legs = []
        for tid in range(start, stop):
            employee = rng.randrange(1, employees + 1)
            points = POINT_CHOICES[rng.randrange(10)]
            at = now - timedelta(seconds=int(span * rng.random() ** 1.5))
            balances[employee] += points
            txns.append(
                (
                    tid,
                    f"award:{tid}",
                    "award",
                    employee,
                    people[employee - 1][3],
                    points,
                    at,
                    at,
                    "bench",
                    1,
                    "system",
                    "",
                    "",
                )
            )
            legs.append((entry_id, tid, issuance, -points))
            legs.append((entry_id + 1, tid, employee, points))
            entry_id += 2
        await conn.copy_records_to_table("ledger_transaction", records=txns, columns=columns)
        await conn.copy_records_to_table(
            "ledger_entry", records=legs, columns=["id", "transaction_id", "account_id", "amount"]
        )
    timings["ledger"] = time.perf_counter() - started

    started = time.perf_counter()
    accounts: list[tuple[int, int | None, str, int]] = [
        (i, i, "available", balances[i]) for i in range(1, employees + 1)
    ]
    accounts.append((issuance, None, "issuance", -sum(balances)))
    await conn.copy_records_to_table(
        "account", records=accounts, columns=["id", "employee_id", "kind", "balance"]
    )
    for table in ("department", "employee", "account", "ledger_transaction", "ledger_entry"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    # Period scores from the very transactions just written, cut in the company zone
    # exactly as points.calendar.keys_at cuts them.
    formats = {
        "day": "YYYY-MM-DD",
        "week": 'IYYY-"W"IW',
        "month": "YYYY-MM",
        "quarter": 'YYYY-"Q"Q',
        "year": "YYYY",
    }
    for period, fmt in formats.items():
        await conn.execute(
            f"""
            INSERT INTO period_score (employee_id, period, period_key, points)
            SELECT employee_id, '{period}',
                   to_char(effective_at AT TIME ZONE '{ZONE_NAME}', '{fmt}'), SUM(points)
            FROM ledger_transaction GROUP BY 1, 3
            """
        )
    await conn.execute(
        """
        INSERT INTO period_score (employee_id, period, period_key, points)
        SELECT employee_id, 'all', 'all', SUM(points) FROM ledger_transaction GROUP BY 1
        """
    )
    await conn.execute("RESET session_replication_role")
    timings["period_scores"] = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    timings["vacuum_analyze"] = time.perf_counter() - started
    return timings


async def _service_answer(
    db: Database, period: Period, key: str, viewer: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    async with db.session() as session:
        board = await board_leaderboard.leaderboard(
            session,
            window=board_windows.Window(period, key),
            scope=board_windows.Scope(),
            viewer_id=viewer,
            limit=TOP,
            zone=ZONE,
        )
    return [(r.points, r.rank) for r in board.top], [(r.points, r.rank) for r in board.around]


async def _naive_answer(
    conn: asyncpg.Connection, start: datetime, end: datetime, viewer: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    rows = await conn.fetch(NAIVE_SQL, start, end, viewer, TOP)
    top = [(int(r["points"]), int(r["rank"])) for r in rows[:TOP]]
    rest = [(int(r["points"]), int(r["rank"])) for r in rows[TOP:]]
    return top, rest


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


async def run(quick: bool) -> BenchResult:
    """Generate, measure the service and the naive query, compare answers, drop the database."""
    employees, entries = (10_000, 300_000) if quick else (100_000, 10_000_000)
    base = os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE).rstrip("/")
    name = f"points_bench_{uuid.uuid4().hex[:10]}"
    url = f"{base}/{name}"
    settings = Settings(DATABASE_URL=url, TIMEZONE=ZONE_NAME)
    zone = settings.zone
    now = datetime.now(UTC)
    await _admin(base, f'CREATE DATABASE "{name}"')
    details: dict[str, Any] = {"employees": employees, "ledger_entries": entries}
    try:
        started = time.perf_counter()
        await upgrade_async(url)
        details["migrate_s"] = round(time.perf_counter() - started, 1)
        conn = await asyncpg.connect(_dsn(url), timeout=10)
        try:
            started = time.perf_counter()
            steps = await generate(conn, employees, entries, now)
            details["generate_s"] = round(time.perf_counter() - started, 1)
            details["generate_steps_s"] = {k: round(v, 1) for k, v in steps.items()}
            details["period_score_rows"] = await conn.fetchval("SELECT count(*) FROM period_score")
            db = Database(settings)
            rng = random.Random(11)
            viewers = await conn.fetch(
                "SELECT id FROM employee WHERE status = 'active' AND NOT excluded"
            )
            ids = [int(r["id"]) for r in viewers]
            runs = 15 if quick else 40
            naive_runs = 3
            month = key_at(Period.month, now, zone)
            for label, period, key in (("month", Period.month, month), ("all", Period.all, "all")):
                start, end = bounds(period, key, zone)
                chosen = [rng.choice(ids) for _ in range(runs)]
                await _service_answer(db, period, key, chosen[0])  # warm the pool and caches
                samples = []
                for viewer in chosen:
                    began = time.perf_counter()
                    await _service_answer(db, period, key, viewer)
                    samples.append(time.perf_counter() - began)
                naive = []
                mismatches = 0
                for viewer in chosen[:naive_runs]:
                    began = time.perf_counter()
                    expected = await _naive_answer(conn, start, end, viewer)
                    naive.append(time.perf_counter() - began)
                    got = await _service_answer(db, period, key, viewer)
                    # The naive query lists the viewer's window even when they are in
                    # the top; the service leaves it out then. Compare the top, and the
                    # window whenever the service shows one.
                    if got[0] != expected[0] or (got[1] and got[1] != expected[1]):
                        mismatches += 1
                details[f"{label}_service_median_ms"] = _ms(samples)
                details[f"{label}_service_p95_ms"] = round(
                    sorted(samples)[int(0.95 * (len(samples) - 1))] * 1000, 2
                )
                details[f"{label}_naive_median_ms"] = _ms(naive)
                details[f"{label}_speedup"] = round(_ms(naive) / max(_ms(samples), 0.001), 1)
                details[f"{label}_answers_differ"] = mismatches
            await db.dispose()
        finally:
            await conn.close()
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    figure = max(details["month_service_median_ms"], details["all_service_median_ms"])
    baseline = min(details["month_naive_median_ms"], details["all_naive_median_ms"])
    return BenchResult(
        name="leaderboard",
        unit="ms (median, top 50 + me ± 2; slower of month and all time)",
        figure=figure,
        baseline=baseline,
        baseline_name="GROUP BY over the ledger entries (faster of month and all time)",
        higher_is_better=False,
        goal="≥100× faster than the naive query and < 20 ms median",
        details=details,
    )
