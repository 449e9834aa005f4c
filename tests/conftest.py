"""The fixtures every test may use: real PostgreSQL and Redis, a fresh database per run.

Helpers live in :mod:`tests.support` and are imported from there; fixtures shared by
several folders are plugins of that package (listed below), never imports of a conftest.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlmodel import func, select
from starlette.applications import Starlette

from points import jobs
from points.db import Database
from points.ledger.models import LedgerTransaction
from points.ledger.reconcile import reconcile
from points.migrate import upgrade
from points.wiring import load_jobs
from tests.support.services import (
    PG_ADMIN_DSN,
    REDIS_BASE,
    Store,
    make_settings,
    service_missing,
    truncate_all,
)
from web.app import create_app

pytest_plugins = [
    "tests.support.browser",
    "tests.support.journeys",
    "tests.support.org",
    "tests.support.processes",
    "tests.support.rewards",
    "tests.support.rulesets",
]


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


async def _books_reconcile(request: pytest.FixtureRequest, store: Store) -> None:
    """After a test that wrote to the ledger, ``reconcile`` must find nothing to correct.

    Every test with a database gets this check when its store closes; a test that damages
    the books on purpose says so with ``@pytest.mark.books_tampered``.
    """
    if request.node.get_closest_marker("books_tampered"):
        return
    async with store.db.session() as session:
        written = (await session.exec(select(func.count()).select_from(LedgerTransaction))).one()
        if not written:
            return
        report = await reconcile(session, store.settings.zone)
    assert report.clean, f"the ledger does not reconcile after this test: {report.problems}"


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


@pytest.fixture
async def pg(pg_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The run's PostgreSQL database, emptied for this test; its books checked after."""
    settings = make_settings(pg_url)
    db = Database(settings)
    await truncate_all(db)
    store = Store(settings, db)
    try:
        yield store
        await _books_reconcile(request, store)
    finally:
        await db.dispose()


@pytest.fixture
async def lite(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh SQLite database file (the embedded default), migrated; its books checked after."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'points.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url)
    db = Database(settings)
    store = Store(settings, db)
    try:
        yield store
        await _books_reconcile(request, store)
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
