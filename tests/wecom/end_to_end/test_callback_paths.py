"""How a delivery reaches the database: its own lane past the browser middleware, its own pool."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from starlette.applications import Starlette

from points.settings import Settings
from points.wecom.config import intake_database
from points.wecom.crypto import CallbackCrypto
from points.wecom.samples import enter_agent_message
from tests.support.factories import make_department, make_employee
from tests.support.services import PG_ADMIN_DSN, Store, make_settings
from tests.support.wecom import deliver, event_count


def _message(settings: Settings, userid: str = "wangwu", offset: int = 0) -> str:
    return enter_agent_message(
        userid,
        create_time=int(time.time()) - offset,
        corp_id=settings.WECOM_CORP_ID,
        agent_id="1000002",
    )


async def test_a_delivery_is_counted_under_its_route_and_sets_no_cookie(
    web: httpx.AsyncClient, wapp: Starlette, settings: Settings, crypto: CallbackCrypto
) -> None:
    response = await deliver(web, wapp, crypto, _message(settings))
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    metrics = (await web.get("/metrics")).text
    assert 'points_http_requests_total{method="POST",route="/wecom/callback",status="200"} 1.0' in (
        metrics
    )


async def test_other_methods_and_paths_still_go_through_the_router(
    web: httpx.AsyncClient,
) -> None:
    assert (await web.put("/wecom/callback", content=b"<xml/>")).status_code == 405
    assert (await web.post("/wecom/callback/x", content=b"<xml/>")).status_code == 404
    # Pages behind the lane keep their session and language.
    page = await web.get("/login", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "points_session" in page.headers.get("set-cookie", "")


async def test_the_intake_pool_replaces_a_connection_the_server_closed(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    settings: Settings,
    crypto: CallbackCrypto,
) -> None:
    """Its pool skips the ping-per-checkout, so a dead pooled connection must not reach us."""
    async with pg.db.session() as session:
        await make_employee(session, await make_department(session), userid="wangwu")
        await session.commit()
    assert (await deliver(web, wapp, crypto, _message(settings))).status_code == 200
    database = pg.settings.DATABASE_URL.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        # Every other connection to the test database: the intake pool's among them.
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    assert killed >= 1
    await asyncio.sleep(0.2)  # the driver sees the server close the socket
    response = await deliver(web, wapp, crypto, _message(settings, offset=100))
    assert response.status_code == 200, response.text
    assert await event_count(pg) == 2


def test_only_postgresql_with_callbacks_on_gets_an_intake_pool(settings: Settings) -> None:
    assert intake_database(make_settings("sqlite+aiosqlite:///unused.db")) is None
    assert intake_database(make_settings(settings.DATABASE_URL)) is None  # WeCom off
    assert intake_database(settings) is not None
