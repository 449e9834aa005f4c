"""Wiring WeCom to the product's settings: readiness, URLs, crypto, API client, pools.

Events from callbacks and pull connectors are stored under one source, ``"wecom"``,
so a callback, its retries and the pull that finds the same object are one row.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from points.db import Database
from points.errors import InvalidInput
from points.i18n import _
from points.settings import Settings
from points.wecom.client import InMemoryTokenStore, RedisTokenStore, TokenStore, WeComClient
from points.wecom.crypto import CallbackCrypto

SOURCE = "wecom"
CALLBACK_PATH = "/wecom/callback"
# Login lives under /login (HTML errors), not /wecom (JSON errors for WeCom's servers).
LOGIN_PATH = "/login/wecom"
OAUTH_CALLBACK_PATH = "/login/wecom/callback"
FETCH_DETAILS_JOB = "wecom_fetch_details"
CONTACT_CHANGES_JOB = "wecom_apply_contact_changes"


def callback_ready(settings: Settings) -> bool:
    """WeCom is on and the callback secrets (Token, EncodingAESKey, CorpID) are set."""
    return bool(
        settings.WECOM_ENABLED
        and settings.WECOM_CORP_ID
        and settings.WECOM_TOKEN
        and settings.WECOM_AES_KEY
    )


def api_ready(settings: Settings) -> bool:
    """WeCom is on and the API credentials (CorpID, Secret) are set."""
    return bool(settings.WECOM_ENABLED and settings.WECOM_CORP_ID and settings.WECOM_SECRET)


def callback_url(settings: Settings) -> str:
    """The URL to paste into the app's "接收消息" settings in WeCom's console."""
    return settings.BASE_URL.rstrip("/") + CALLBACK_PATH


def oauth_redirect_url(settings: Settings) -> str:
    """Where WeCom sends people back after OAuth or the web login."""
    return settings.BASE_URL.rstrip("/") + OAUTH_CALLBACK_PATH


def make_crypto(settings: Settings, clock: Callable[[], float] = time.time) -> CallbackCrypto:
    """Callback crypto from the settings; ``clock`` is injectable for test vectors."""
    return CallbackCrypto(
        settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID, clock=clock
    )


def intake_database(settings: Settings) -> Database | None:
    """A connection pool of the callback's own on PostgreSQL; None where none is needed.

    The shared pool pings every connection it hands out -- BEGIN, a statement,
    ROLLBACK: three round trips, more than storing a callback takes. This pool skips
    that ping and instead refuses, without a round trip, a connection the driver
    already knows the server closed (a restart, an idle timeout, a terminated
    backend), which is what the ping is there to catch. On SQLite (no network) and
    with callbacks off, the shared database serves.
    """
    if settings.is_sqlite or not callback_ready(settings):
        return None
    db = Database(settings, pool_pre_ping=False)
    event.listen(db.engine.sync_engine, "checkout", _refuse_closed_connection)
    return db


def _refuse_closed_connection(_dbapi: Any, _record: Any, proxy: Any) -> None:
    # DisconnectionError makes the pool drop this connection and check out another.
    is_closed = getattr(proxy.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


# One per process when there is no Redis: the embedded default runs web and jobs in
# one process, and WeCom hands out the same token while it is valid anyway.
_memory_tokens = InMemoryTokenStore()


@asynccontextmanager
async def open_client(
    settings: Settings, *, http: httpx.AsyncClient | None = None
) -> AsyncIterator[WeComClient]:
    """A WeCom API client for this unit of work; the token is shared via Redis or memory."""
    if not api_ready(settings):
        raise InvalidInput(
            _("WeCom is not configured: set POINTS_WECOM_ENABLED, CORP_ID and SECRET."),
            code="wecom_not_configured",
        )
    redis = None
    store: TokenStore = _memory_tokens
    if settings.REDIS_URL:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.REDIS_URL)
        store = RedisTokenStore(redis)
    client = WeComClient(
        settings.WECOM_API_BASE,
        settings.WECOM_CORP_ID,
        settings.WECOM_SECRET,
        store,
        http,
        backoff_base_seconds=settings.WECOM_RETRY_BASE_SECONDS,
    )
    try:
        yield client
    finally:
        await client.aclose()
        if redis is not None:
            await redis.aclose()
