"""Bench "callback intake": sealed WeCom callbacks per second through the real endpoint.

Both servers run under uvicorn on loopback ports (same settings, same process),
driven by the same httpx client with the same number of requests in flight: the real
app against a bare Starlette route that answers 200. The real app stores into a
throwaway PostgreSQL database and sends scoring jobs to Redis, as in production,
when those are reachable; otherwise SQLite in a temp dir and jobs in-process (the
embedded default). Every callback is a distinct event, so each one is verified,
decrypted, stored and has its scoring job enqueued after commit.
Goal: at least 0.4 of the bare route, p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvicorn
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from points.db import Database
from points.devtools.bench import BenchResult
from points.migrate import upgrade_async
from points.org import service as org
from points.settings import Settings
from points.wecom.crypto import CallbackCrypto, SealedCallback
from points.wecom.samples import enter_agent_message

# WeCom delivers callbacks a few at a time; 4 in flight is already more than it sends.
CONCURRENCY = 4
CORP_ID = "wwbenchcorp0001"


@contextmanager
def _serve(app: Starlette) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread (lifespan on), yielding the base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("bench server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


async def _drive(
    url: str, requests: Sequence[SealedCallback], seconds: float
) -> tuple[float, list[float]]:
    """Requests/s and latencies (s) with CONCURRENCY requests in flight for ``seconds``."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    next_index = 0
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal next_index
            while time.perf_counter() < deadline and next_index < len(requests):
                sealed = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                response = await client.post(
                    url,
                    params=sealed.params,
                    content=sealed.body,
                    headers={"Content-Type": "text/xml"},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies


@asynccontextmanager
async def _database(tmp: str) -> AsyncIterator[tuple[str, str]]:
    """A throwaway PostgreSQL database when the server is reachable, else SQLite in ``tmp``.

    POINTS_BENCH_DATABASE=sqlite forces SQLite.
    """
    admin = os.environ.get("POINTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"points_bench_callbacks_{secrets.token_hex(4)}"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    if os.environ.get("POINTS_BENCH_DATABASE") != "sqlite":
        try:
            await execute(f'CREATE DATABASE "{name}"')
        except (OSError, asyncpg.PostgresError):
            pass
        else:
            base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            try:
                yield f"{base}/{name}", "postgresql (throwaway database)"
            finally:
                await execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
    yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", "sqlite (temp dir)"


async def _redis_url() -> str | None:
    """A Redis database for the job queue (web processes only enqueue, as in production).

    Without Redis the scoring jobs run inside the server, as in the embedded default.
    """
    from redis.asyncio import Redis

    url = os.environ.get("POINTS_BENCH_REDIS", "redis://127.0.0.1:6379/13")
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.flushdb()
    except (OSError, RedisError):
        return None
    finally:
        await client.aclose()
    return url


def _p99_ms(latencies: list[float]) -> float:
    if len(latencies) < 2:
        return latencies[0] * 1000 if latencies else 0.0
    return statistics.quantiles(latencies, n=100)[98] * 1000


async def run(quick: bool) -> BenchResult:
    """Measure the callback route against the bare route in the same run."""
    from web.app import create_app

    seconds = 2.0 if quick else 8.0
    aes_key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    token = secrets.token_hex(8)
    crypto = CallbackCrypto(token, aes_key, CORP_ID)
    people = [f"bench{i:03d}" for i in range(50)]
    # Enough distinct callbacks (distinct events) for the whole run, sealed up front.
    now = int(time.time())
    sealed = [
        crypto.post_body(
            enter_agent_message(
                people[i % len(people)], create_time=now - i, corp_id=CORP_ID, agent_id="1"
            ),
            agent_id="1",
        )
        for i in range(int(seconds * 3000))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with _database(tmp) as (url, kind):
            redis_url = await _redis_url()
            settings = Settings(
                DATABASE_URL=url,
                REDIS_URL=redis_url,
                WECOM_ENABLED=True,
                WECOM_CORP_ID=CORP_ID,
                WECOM_TOKEN=token,
                WECOM_AES_KEY=aes_key,
                WECOM_SECRET="unused",
            )
            await upgrade_async(url)
            db = Database(settings)
            async with db.session() as session:
                team = await org.upsert_department(session, id=1, name="总部", parent_id=None)
                for userid in people:
                    await org.upsert_employee(
                        session, userid=userid, name=userid, department_id=team.id
                    )
                await session.commit()
            await db.dispose()
            with _serve(create_app(settings)) as base:
                await _drive(base + "/wecom/callback", sealed[:50], 1.0)  # warm up
                figure, latencies = await _drive(base + "/wecom/callback", sealed[50:], seconds)
            if redis_url:
                await _redis_url()  # drop the scoring jobs the run queued

    async def bare(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    with _serve(Starlette(routes=[Route("/wecom/callback", bare, methods=["POST"])])) as base:
        await _drive(base + "/wecom/callback", sealed[:50], 1.0)
        baseline, bare_latencies = await _drive(base + "/wecom/callback", sealed, seconds)
    p99 = _p99_ms(latencies)
    ratio = figure / baseline if baseline else 0.0
    return BenchResult(
        name="callback intake",
        unit="callbacks/s",
        figure=round(figure, 1),
        baseline=round(baseline, 1),
        baseline_name="bare Starlette route answering 200",
        goal="≥ 0.4 of the bare route and p99 < 50 ms: "
        + ("met" if ratio >= 0.4 and p99 < 50 else "NOT met"),
        details={
            "p99_ms": round(p99, 1),
            "median_ms": round(statistics.median(latencies) * 1000, 1),
            "bare_p99_ms": round(_p99_ms(bare_latencies), 1),
            "concurrency": CONCURRENCY,
            "seconds": seconds,
            "callbacks": len(latencies),
            "database": kind,
            "jobs": "arq (Redis), as in production" if redis_url else "in-process",
        },
    )
