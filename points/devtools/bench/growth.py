"""The "growth" bench: what a year of a 100,000-person company costs, against the demo.

Two PostgreSQL databases side by side, built the same way (the demo company, then a
bulk company generated in SQL, see :mod:`points.devtools.bench.growth_data`):

- small: the demo's 300 people plus 1,000 more with 25,000 awards (50,000 entries);
- large: the demo's 300 people plus 100,000 more with 5,000,000 awards (10,000,000
  entries) over a year (quick: 10,000 people, 300,000 awards).

The large one takes minutes to build, so it is kept as a template database named
``points_growth_large_<version>_<scale>`` (rebuilt when older than a day, since its history is
cut against today's date); each run measures on a copy of it and drops the copy, so
freezing and scoring always start from the same state. ``POINTS_BENCH_GROWTH_REBUILD=1``
forces a rebuild.

Per database the same requests are timed in-process through the real app as a
mid-ranked person (median and p95 over the samples), scoring the same 2,000 events of
the demo people, freezing each closed week and month, and (large only) ``points
reconcile`` in a child process with its peak memory. Ratios are large ÷ small.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlmodel import col, select

from points.boards import frozen, ranking
from points.calendar import key_at, previous_key
from points.db import Database
from points.devtools.bench import BenchResult
from points.devtools.bench.growth_data import add_company
from points.devtools.bench.scoring import activity
from points.devtools.bench.scratch import admin_sql as _admin
from points.devtools.bench.scratch import dsn as _dsn
from points.devtools.demo.company import build_company
from points.events.service import MAX_BATCH, ingest
from points.jobs import InlineQueue, commit
from points.ledger.models import Period
from points.migrate import upgrade_async
from points.org.models import Employee
from points.settings import Settings

DEFAULT_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432"
VERSION = "v1"
MAX_CACHE_AGE = timedelta(days=1)
SCORING_EVENTS = 2_000


def _scale(quick: bool) -> dict[str, tuple[int, int]]:
    large = (10_000, 150_000) if quick else (100_000, 5_000_000)
    return {"small": (1_000, 25_000), "large": large}


async def _build(base: str, name: str, employees: int, transactions: int) -> dict[str, Any]:
    """Migrate, add the demo company and the bulk one; what it took."""
    await _admin(base, f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    started = time.perf_counter()
    await upgrade_async(url)
    db = Database(Settings(DATABASE_URL=url))
    try:
        async with db.session() as session:
            await build_company(session, employees=300)
            await session.commit()
    finally:
        await db.dispose()
    conn = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        steps = await add_company(conn, employees, transactions)
        await conn.execute(
            "CREATE TABLE bench_growth_meta (built_at timestamptz NOT NULL, version text NOT NULL)"
        )
        await conn.execute("INSERT INTO bench_growth_meta VALUES (now(), $1)", VERSION)
    finally:
        await conn.close()
    return {"build_s": round(time.perf_counter() - started, 1), "build_steps_s": steps}


async def _cached(base: str, name: str) -> bool:
    """True when a complete template of this version, built within the day, exists."""
    try:
        conn = await asyncpg.connect(_dsn(f"{base}/{name}"), timeout=10)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        built = await conn.fetchval(
            "SELECT built_at FROM bench_growth_meta WHERE version = $1", VERSION
        )
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await conn.close()
    return built is not None and datetime.now(UTC) - built < MAX_CACHE_AGE


async def _copy(base: str, template: str, name: str) -> float:
    started = time.perf_counter()
    await _admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return time.perf_counter() - started


def _say(text: str) -> None:
    """Progress on stderr: the large build and reconcile take minutes."""
    print(f"growth: {text}", file=sys.stderr, flush=True)


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(median * 1000, 2), round(p95 * 1000, 2)


async def _viewer(conn: asyncpg.Connection, month: str) -> str:
    """A mid-ranked person of this month's board (the rank cost grows with rank)."""
    row = await conn.fetchrow(
        """
        SELECT e.userid FROM period_score s JOIN employee e ON e.id = s.employee_id
        WHERE s.period = 'month' AND s.period_key = $1 AND s.points > 0
          AND e.status = 'active' AND NOT e.excluded AND NOT e.board_opt_out
        ORDER BY s.points DESC, s.employee_id
        OFFSET (SELECT count(*) / 2 FROM period_score WHERE period = 'month' AND period_key = $1
                AND points > 0)
        LIMIT 1
        """,
        month,
    )
    return str(row["userid"])


async def _score(settings: Settings) -> float:
    """Seconds to ingest and score the same events of the demo people."""
    db = Database(settings)
    try:
        async with db.session() as session:
            userids = list(
                (await session.exec(select(Employee.userid).where(col(Employee.id) <= 300))).all()
            )
        events = activity(userids, SCORING_EVENTS, seed=23)
        queue = InlineQueue(settings, db)
        started = time.perf_counter()
        for start in range(0, len(events), MAX_BATCH):
            async with db.session() as session:
                await ingest(session, "bench", events[start : start + MAX_BATCH])
                await commit(session, queue)
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def _freeze(settings: Settings, now: datetime) -> dict[str, float]:
    """Seconds to freeze each of the last closed weeks and months (a job's work)."""
    zone = settings.zone
    db = Database(settings)
    timings: dict[str, float] = {}
    try:
        for period in (Period.week, Period.month):
            key = key_at(period, now, zone)
            for _step in range(2):
                key = previous_key(period, key)
                async with db.session() as session:
                    started = time.perf_counter()
                    await frozen.freeze(session, period, key, zone, now)
                    await session.commit()
                    timings[f"{period.value}:{key}"] = time.perf_counter() - started
    finally:
        await db.dispose()
    return timings


async def _pages(settings: Settings, viewer: str, now: datetime, samples: int) -> dict[str, Any]:
    """Median and p95 of each page, as the viewer, through the real app in-process."""
    from web.app import create_app

    zone = settings.zone
    week = previous_key(Period.week, key_at(Period.week, now, zone))
    month = previous_key(Period.month, key_at(Period.month, now, zone))
    pages = {
        "home": "/",
        "employee_api": f"/api/v1/employees/{viewer}",
        "history": "/history",
        "board": "/boards?period=month",
        "board_week_closed": f"/boards?period=week&key={week}",
        "board_month_closed": f"/boards?period=month&key={month}",
        "departments": "/boards?period=month&view=departments",
    }
    ranking.forget()
    app = create_app(settings)
    figures: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        async with app.state.db.session() as session:
            from points.auth.service import create_token
            from points.org.models import Role

            token = await create_token(
                session, name="growth bench", role=Role.employee, userid=viewer
            )
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.get("/login")
            csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
            await client.post("/login", data={"userid": viewer, "csrf_token": csrf})
            for name, path in pages.items():
                headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api") else {}
                timings = []
                for attempt in range(samples + 3):
                    started = time.perf_counter()
                    response = await client.get(path, headers=headers)
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} answered {response.status_code}")
                    if attempt >= 3:  # the first few fill caches and the pool
                        timings.append(elapsed)
                figures[name] = _ms(timings)
        started = time.perf_counter()
        await ranking._build(app.state.db.engine, Period.month, key_at(Period.month, now, zone))
        figures["rank_index_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return figures


def _reconcile(url: str) -> tuple[float, float, str]:
    """Seconds and peak resident MB of ``points reconcile`` in a child process."""
    script = (
        "import resource, sys\n"
        "from points.cli import main\n"
        "try:\n"
        "    main(['reconcile'])\n"
        "finally:\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    print(f'peak_kb={peak}', file=sys.stderr)\n"
    )
    env = {**os.environ, "POINTS_DATABASE_URL": url, "POINTS_TIMEZONE": "Asia/Shanghai"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    peak_kb = next(
        (
            int(line.split("=")[1])
            for line in done.stderr.splitlines()
            if line.startswith("peak_kb=")
        ),
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return elapsed, peak_kb / 1024, verdict


async def _sizes(conn: asyncpg.Connection) -> dict[str, float]:
    mb = 1024 * 1024
    row = await conn.fetchrow(
        """
        SELECT pg_database_size(current_database()) AS db,
               pg_table_size('period_score') AS scores,
               pg_indexes_size('period_score') AS score_indexes,
               pg_table_size('ledger_transaction') AS transactions,
               pg_indexes_size('ledger_transaction') AS transaction_indexes,
               pg_table_size('ledger_entry') AS entries,
               pg_indexes_size('ledger_entry') AS entry_indexes,
               (SELECT count(*) FROM period_score) AS score_rows
        """
    )
    sizes = {k: round(int(v) / mb, 1) for k, v in row.items() if k != "score_rows"}
    sizes["score_rows"] = int(row["score_rows"])
    return sizes


async def _measure(base: str, name: str, quick: bool, large: bool) -> dict[str, Any]:
    url = f"{base}/{name}"
    settings = Settings(DATABASE_URL=url, TIMEZONE="Asia/Shanghai")
    now = datetime.now(UTC)
    figures: dict[str, Any] = {}
    conn = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        figures["sizes_mb"] = await _sizes(conn)
        viewer = await _viewer(conn, key_at(Period.month, now, settings.zone))
    finally:
        await conn.close()
    figures["viewer"] = viewer
    _say(f"{name}: measuring as {viewer}")
    if large:
        seconds, peak_mb, verdict = _reconcile(url)
        _say(f"reconcile {seconds:.1f} s, {peak_mb:.0f} MB: {verdict}")
        figures["reconcile"] = (round(seconds, 1), round(peak_mb, 1), verdict)
    freezes = await _freeze(settings, now)
    figures["freeze_s"] = {k: round(v, 2) for k, v in freezes.items()}
    _say(f"freezing {figures['freeze_s']}")
    figures["pages"] = await _pages(settings, viewer, now, 10 if quick else 30)
    _say(f"pages {figures['pages']}")
    figures["scoring_s"] = round(await _score(settings), 2)
    _say(f"scoring {figures['scoring_s']} s")
    return figures


async def run(quick: bool) -> BenchResult:
    base = os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE).rstrip("/")
    details: dict[str, Any] = {}
    measured: dict[str, dict[str, Any]] = {}
    for label, (employees, transactions) in _scale(quick).items():
        template = f"points_growth_{label}_{VERSION}_{employees}_{transactions}"
        if os.environ.get("POINTS_BENCH_GROWTH_REBUILD") or not await _cached(base, template):
            await _admin(base, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            _say(f"building {template}")
            details[f"{label}_build"] = await _build(base, template, employees, transactions)
            _say(f"built {details[f'{label}_build']}")
        else:
            # A template kept from an earlier run gets this code's migrations (cheap).
            await upgrade_async(f"{base}/{template}")
        copy = f"points_bench_{uuid.uuid4().hex[:10]}"
        details[f"{label}_copy_s"] = round(await _copy(base, template, copy), 1)
        try:
            measured[label] = await _measure(base, copy, quick, large=label == "large")
        finally:
            await _admin(base, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    small, large = measured["small"], measured["large"]
    ratios = []
    for page, figure in large["pages"].items():
        if page == "rank_index_build_ms":
            continue
        large_median, large_p95 = figure
        small_median, small_p95 = small["pages"][page]
        ratio = round(large_median / max(small_median, 0.001), 2)
        ratios.append(ratio)
        details[f"{page}_ratio"] = ratio
        details[f"{page}_large_p95_ms"] = large_p95
        details[f"{page}_large_median_ms"] = large_median
        details[f"{page}_small_median_ms"] = small_median
        details[f"{page}_small_p95_ms"] = small_p95
    details["rank_index_build_small_ms"] = small["pages"]["rank_index_build_ms"]
    details["rank_index_build_large_ms"] = large["pages"]["rank_index_build_ms"]
    details["rank_index_build_ratio"] = round(
        large["pages"]["rank_index_build_ms"] / max(small["pages"]["rank_index_build_ms"], 0.001), 1
    )
    details["scoring_small_s"] = small["scoring_s"]
    details["scoring_large_s"] = large["scoring_s"]
    details["scoring_ratio"] = round(large["scoring_s"] / max(small["scoring_s"], 0.001), 2)
    seconds, peak_mb, verdict = large["reconcile"]
    details["reconcile_large_s"] = seconds
    details["reconcile_large_peak_mb"] = peak_mb
    details["reconcile_large_result"] = verdict
    details["freeze_small_s"] = small["freeze_s"]
    details["freeze_large_boards_s"] = large["freeze_s"]
    details["freeze_large_s"] = max(large["freeze_s"].values())
    details["sizes_small_mb"] = small["sizes_mb"]
    details["sizes_large_mb"] = large["sizes_mb"]
    details["viewers"] = {"small": small["viewer"], "large": large["viewer"]}
    details["scale"] = {
        k: {"employees": e, "entries": 2 * t} for k, (e, t) in _scale(quick).items()
    }
    worst = max(ratios)
    return BenchResult(
        name="growth",
        unit="× (worst page: large median ÷ small median)",
        figure=worst,
        baseline=1.0,
        baseline_name="the same page on the small database, same run",
        higher_is_better=False,
        goal=(
            "every page ≤ 2× and p95 < 100 ms on large; freezing a board < 5 s; "
            "reconcile on large < 5 min and < 1 GB"
        ),
        details=details,
    )
