"""The WeCom connection end to end: the real app, a real database, the fake WeCom server."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from points.db import utcnow
from points.devtools.fake_wecom import FakeWeCom, serve_in_thread
from points.events.models import ActivityEvent
from points.jobs import InlineQueue
from points.settings import Settings
from points.wecom import config as wecom_config
from points.wecom.crypto import CallbackCrypto
from points.wecom.tokens import InMemoryTokenStore
from tests.conftest import Store, make_settings
from tests.wecom.conftest import VECTORS_PATH
from web.app import create_app


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def fake(vectors: dict[str, Any]) -> FakeWeCom:
    """The fake WeCom, speaking for the vectors' company (same CorpID as the callbacks)."""
    fake = FakeWeCom.demo()
    fake.corp_id = vectors["corp_id"]
    fake.agent_id = int(vectors["agent_id"])
    return fake


@pytest.fixture
def fake_url(fake: FakeWeCom) -> Iterator[str]:
    with serve_in_thread(fake.app()) as url:
        yield url


@pytest.fixture
def settings(pg: Store, fake: FakeWeCom, fake_url: str, vectors: dict[str, Any]) -> Settings:
    """WeCom on, with the vectors' callback secrets and the fake server as the API."""
    return make_settings(
        pg.settings.DATABASE_URL,
        WECOM_ENABLED=True,
        WECOM_CORP_ID=vectors["corp_id"],
        WECOM_AGENT_ID=vectors["agent_id"],
        WECOM_SECRET=fake.secret,
        WECOM_TOKEN=vectors["token"],
        WECOM_AES_KEY=vectors["encoding_aes_key"],
        WECOM_API_BASE=fake_url,
        BASE_URL="https://points.example.com",
        WECOM_RETRY_BASE_SECONDS=0.0,  # the client's retries do not wait in tests
    )


@pytest.fixture
async def wapp(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def web(wapp: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=wapp, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def crypto(settings: Settings) -> CallbackCrypto:
    """Seals callbacks the way WeCom does for this company (real clock)."""
    return CallbackCrypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)


@pytest.fixture
def jobs(pg: Store, settings: Settings) -> InlineQueue:
    """Runs jobs in the test, scoring included, before returning."""
    return InlineQueue(settings, pg.db)


@pytest.fixture(autouse=True)
def fresh_token_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without a cached token or an open token breaker."""
    monkeypatch.setattr(wecom_config, "_memory_tokens", InMemoryTokenStore())


@dataclass
class Clock:
    """An injectable "now" for jobs: tests move it instead of waiting minutes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock(utcnow())


@pytest.fixture
def timed_jobs(pg: Store, settings: Settings, clock: Clock) -> InlineQueue:
    """Runs jobs in the test with the test's clock; deferred jobs are only recorded."""
    return InlineQueue(settings, pg.db, clock=clock)


async def deliver(
    web: httpx.AsyncClient, app: Starlette, crypto: CallbackCrypto, message: str
) -> httpx.Response:
    """POST a sealed callback and wait for the jobs it started (scoring, details)."""
    sealed = crypto.post_body(message)
    response = await web.post(
        "/wecom/callback",
        params=sealed.params,
        content=sealed.body,
        headers={"Content-Type": "text/xml"},
    )
    await app.state.queue.drain()
    return response


async def event_count(store: Store) -> int:
    async with store.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(ActivityEvent))).one())


async def rejected_count(web: httpx.AsyncClient, reason: str) -> float:
    text = (await web.get("/metrics")).text
    match = re.search(
        r'points_wecom_callbacks_rejected_total\{reason="' + re.escape(reason) + r'"\} (\S+)', text
    )
    return float(match.group(1)) if match else 0.0
