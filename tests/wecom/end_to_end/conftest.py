"""The WeCom connection end to end: the real app, a real database, the fake WeCom server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from points.db import utcnow
from points.devtools.fake_wecom import FakeWeCom, serve_in_thread
from points.jobs import InlineQueue
from points.settings import Settings
from points.wecom import config as wecom_config
from points.wecom.crypto import CallbackCrypto
from points.wecom.tokens import InMemoryTokenStore
from tests.support.services import Store, make_settings
from tests.support.wecom import VECTORS_PATH, Clock
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


@pytest.fixture
def clock() -> Clock:
    return Clock(utcnow())


@pytest.fixture
def timed_jobs(pg: Store, settings: Settings, clock: Clock) -> InlineQueue:
    """Runs jobs in the test with the test's clock; deferred jobs are only recorded."""
    return InlineQueue(settings, pg.db, clock=clock)
