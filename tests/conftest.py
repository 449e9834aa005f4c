"""Shared fixtures: real PostgreSQL and Redis, a fresh database per test run.

Services missing? Locally the tests that need them are skipped with a reason; under
``CI=true`` they fail, so a green CI always means they ran.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from starlette.applications import Starlette

from points import jobs
from points.db import Database
from points.migrate import upgrade
from points.settings import Settings
from points.wiring import load_jobs
from web.app import create_app

PG_ADMIN_DSN = os.environ.get("POINTS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("POINTS_TEST_REDIS", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session", autouse=True)
def _jobs_registered() -> None:
    """The test run is an entry point: it builds the job registry, as the worker does."""
    load_jobs()


@pytest.fixture(autouse=True)
def _no_job_left_unsent() -> Iterator[None]:
    """A transaction that asked for a job and committed without sending it fails the test."""
    jobs.DROPPED.clear()
    yield
    dropped = list(jobs.DROPPED)
    jobs.DROPPED.clear()
    assert not dropped, f"committed without points.jobs.commit, so never sent: {dropped}"


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable ({error!r}); see the README (Run the tests) to start it"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test run (and xdist worker), migrated to head."""
    name = f"points_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database number of its own per xdist worker, emptied before use."""
    # POINTS_TEST_REDIS_DB moves the first database number, so that several test runs
    # on one Redis (started with more than the default 16 databases) never share one.
    first = int(os.environ.get("POINTS_TEST_REDIS_DB", "1"))
    url = f"{REDIS_BASE}/{first + _worker_index() % 15}"

    async def flush() -> None:
        client = aioredis.from_url(url, socket_connect_timeout=3)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    try:
        asyncio.run(flush())
    except (OSError, aioredis.RedisError) as exc:
        service_missing("Redis", exc)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def _truncate_all(db: Database) -> None:
    async with db.engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class Store:
    settings: Settings
    db: Database


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Store]:
    """The run's PostgreSQL database, emptied for this test."""
    settings = make_settings(pg_url)
    db = Database(settings)
    await _truncate_all(db)
    try:
        yield Store(settings, db)
    finally:
        await db.dispose()


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite database file (the embedded default), migrated."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'points.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url)
    db = Database(settings)
    try:
        yield Store(settings, db)
    finally:
        await db.dispose()


@pytest.fixture
async def app(pg: Store) -> AsyncIterator[Starlette]:
    application = create_app(pg.settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
