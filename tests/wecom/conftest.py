"""Fixtures for the WeCom protocol layer: vectors, crypto with a fixed clock, fake server."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from points.devtools.fake_wecom import FakeWeCom
from points.wecom.client import InMemoryTokenStore, WeComClient
from points.wecom.crypto import CallbackCrypto
from tests.support.wecom import CORP_ID, NOW, TOKEN, VECTORS_PATH, RecordedSleeps, new_aes_key


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """The shared known-good callback vectors."""
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def vector_crypto(vectors: dict[str, Any]) -> Callable[[str], CallbackCrypto]:
    """Crypto configured as the vectors, with the clock set to a given timestamp."""

    def make(timestamp: str) -> CallbackCrypto:
        return CallbackCrypto(
            vectors["token"],
            vectors["encoding_aes_key"],
            vectors["corp_id"],
            clock=lambda: float(timestamp),
        )

    return make


@pytest.fixture(scope="session")
def aes_key() -> str:
    """One EncodingAESKey for this test session."""
    return new_aes_key()


@pytest.fixture
def crypto(aes_key: str) -> CallbackCrypto:
    """Crypto with our own secrets and the clock fixed at :data:`NOW`."""
    return CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=lambda: float(NOW))


@pytest.fixture
def fake() -> FakeWeCom:
    """The fake WeCom with its demo company, dated around the real current time."""
    return FakeWeCom.demo()


@pytest.fixture
def sleeps() -> RecordedSleeps:
    """Backoff delays the client asked for."""
    return RecordedSleeps()


@pytest.fixture
async def client(fake: FakeWeCom, sleeps: RecordedSleeps) -> AsyncIterator[WeComClient]:
    """A client talking to the fake in-process (ASGI transport), without real sleeps."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.app()), base_url="http://fake-wecom"
    ) as http:
        yield WeComClient(
            "http://fake-wecom",
            fake.corp_id,
            fake.secret,
            InMemoryTokenStore(),
            http,
            sleep=sleeps,
        )


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    """A Redis connection for token-store tests; skipped locally when Redis is down."""
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError

    url = os.environ.get("POINTS_TEST_REDIS", "redis://127.0.0.1:6379") + "/14"
    connection = aioredis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        await connection.ping()
    except (OSError, RedisConnectionError) as exc:
        await connection.aclose()
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis is not reachable: {exc!r}", pytrace=False)
        pytest.skip(f"Redis is not reachable: {exc!r}")
    yield connection
    await connection.aclose()
