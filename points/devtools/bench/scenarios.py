"""The benchmark scenarios and their registry. Each builds what it needs in a throwaway
database; the scenario modules return a :class:`BenchResult` and know no registry.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from points.db import Database
from points.devtools.bench import BenchResult
from points.devtools.demo.company import build_company
from points.migrate import upgrade_async
from points.settings import Settings
from points.wiring import load_jobs

Scenario = Callable[[bool], Coroutine[Any, Any, BenchResult]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


async def _requests_per_second(client: httpx.AsyncClient, path: str, seconds: float) -> float:
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        response = await client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        count += 1
    return count / (time.perf_counter() - started)


@scenario("authenticated page")
async def authenticated_page(quick: bool) -> BenchResult:
    """The home page for a logged-in employee vs a bare Starlette route, in-process."""
    from web.app import create_app

    seconds = 1.0 if quick else 5.0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(DATABASE_URL=url)
        await upgrade_async(url)
        db = Database(settings)
        async with db.session() as session:
            company = await build_company(session, employees=50)
            await session.commit()
        await db.dispose()

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                login = await client.get("/login")
                csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
                userid = next(iter(company.heads.values()))
                await client.post("/login", data={"userid": userid, "csrf_token": csrf})
                figure = await _requests_per_second(client, "/", seconds)

        async def bare(request: Request) -> Response:
            return PlainTextResponse("ok")

        bare_app = Starlette(routes=[Route("/", bare)])
        transport = httpx.ASGITransport(app=bare_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            baseline = await _requests_per_second(client, "/", seconds)
    return BenchResult(
        name="authenticated page",
        unit="requests/s",
        figure=round(figure, 1),
        baseline=round(baseline, 1),
        baseline_name="bare Starlette route",
        goal="informational: the cost of session, permission check, database and template",
        details={"seconds": seconds, "database": "sqlite"},
    )


def run_all(names: list[str] | None, quick: bool) -> list[BenchResult]:
    load_jobs()  # scenarios run jobs in-process
    chosen = SCENARIOS
    wanted = set(names or [])
    # A scenario is named in full ("scoring throughput") or by its first word ("scoring").
    picked = [name for name in chosen if not names or {name, name.split()[0]} & wanted]
    unknown = {n for n in wanted if not any(n in (name, name.split()[0]) for name in chosen)}
    if unknown:
        raise KeyError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return [asyncio.run(chosen[name](quick)) for name in picked]


@scenario("rule evaluation")
async def rule_evaluation(quick: bool) -> BenchResult:
    """Events scored per second in memory (default rules + 200 generated) vs the same
    conditions hand-written as plain Python functions (see rules/benchmark.py).
    """
    from rules import benchmark

    result = await asyncio.to_thread(benchmark.run, quick)
    return BenchResult(
        name=result["name"],
        unit=result["unit"],
        figure=result["figure"],
        baseline=result["baseline"],
        baseline_name="the same conditions as hand-written Python functions",
        goal="at least 0.25 of the baseline",
        details=result["details"],
    )


@scenario("leaderboard")
async def leaderboard(quick: bool) -> BenchResult:
    """Top 50 + me ± 2 from period scores vs GROUP BY over the ledger entries (PostgreSQL).

    100,000 employees and 10,000,000 entries (quick: 10,000 and 300,000), loaded with
    COPY into a throwaway database (POINTS_BENCH_PG, default the local server).
    """
    from points.devtools.bench.leaderboard import run

    return await run(quick)


@scenario("scoring throughput")
async def scoring_throughput(quick: bool) -> BenchResult:
    """Events/s from intake to committed ledger entries on PostgreSQL, default rules,
    vs writing the same rows with hand-batched SQL (see bench/scoring.py).
    """
    from points.devtools.bench.scoring import run

    return await run(quick)


@scenario("callback intake")
async def callback_intake(quick: bool) -> BenchResult:
    """Sealed WeCom callbacks/s through the real endpoint (uvicorn, loopback) vs a bare
    Starlette route under the same client; p99 latency (see bench/callbacks.py).
    """
    from points.devtools.bench.callbacks import run

    return await run(quick)


@scenario("redemption")
async def redemption(quick: bool) -> BenchResult:
    """Successful redemptions/s on one hot reward under 16 concurrent clients (PostgreSQL)
    vs the bare conditional UPDATE of one balance row (see bench/redemption.py).
    """
    from points.devtools.bench.redemption import run

    return await run(quick)


@scenario("simulation")
async def simulation(quick: bool) -> BenchResult:
    """A candidate rule set against the active one over 1,000,000 stored events on
    PostgreSQL (quick: 50,000) vs streaming the same rows without evaluating them
    (see bench/simulation.py).
    """
    from points.devtools.bench.simulation import run

    return await run(quick)


@scenario("growth")
async def growth(quick: bool) -> BenchResult:
    """Pages, scoring, freezing and reconcile on a year of a 100,000-person company
    (10,000,000 entries) against the demo-sized database (see bench/growth.py).
    """
    from points.devtools.bench.growth import run

    return await run(quick)


@scenario("morning rush")
async def morning_rush(quick: bool) -> BenchResult:
    """People logging in and opening home, board and catalogue at a fixed arrival rate,
    through ``points serve --workers 2`` on PostgreSQL while a worker scores events: the
    best rate with p99 < 150 ms vs a bare Starlette route (see bench/morning_rush.py).
    """
    from points.devtools.bench.morning_rush import run

    return await run(quick)
