"""The callback route: vectors, every kind of bad delivery, retries and status."""

from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlmodel import select
from starlette.applications import Starlette

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent
from points.settings import Settings
from points.wecom.crypto import CallbackCrypto, signature
from points.wecom.models import CallbackStatus
from points.wecom.samples import approval_detail, date_control, enter_agent_message
from points.wecom.xmlmsg import build_xml
from tests.support.factories import make_department, make_employee
from tests.support.services import Store, make_settings
from tests.support.wecom import deliver, event_count, rejected_count
from web.app import create_app


def _at(app: Starlette, timestamp: str) -> None:
    """Set the clock the replay window compares against (the vectors are from 2024)."""
    app.state.wecom_clock = lambda: float(timestamp)


async def test_url_verification_vector_answers_the_plaintext(
    web: httpx.AsyncClient, wapp: Starlette, pg: Store, vectors: dict[str, Any]
) -> None:
    check = vectors["url_verification"]
    _at(wapp, check["timestamp"])
    response = await web.get(
        "/wecom/callback",
        params={
            "msg_signature": check["msg_signature"],
            "timestamp": check["timestamp"],
            "nonce": check["nonce"],
            "echostr": check["echostr"],
        },
    )
    assert response.status_code == 200
    assert response.text == check["expected_response"]
    async with pg.db.session() as session:
        status = await session.get(CallbackStatus, 1)
    assert status is not None and status.last_verification_ok is True


async def test_a_failed_url_verification_is_recorded_by_reason(
    web: httpx.AsyncClient, wapp: Starlette, pg: Store, vectors: dict[str, Any]
) -> None:
    check = vectors["url_verification"]
    _at(wapp, check["timestamp"])
    response = await web.get(
        "/wecom/callback",
        params={
            "msg_signature": "0" * 40,
            "timestamp": check["timestamp"],
            "nonce": check["nonce"],
            "echostr": check["echostr"],
        },
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    async with pg.db.session() as session:
        status = await session.get(CallbackStatus, 1)
    assert status is not None
    assert (status.last_verification_ok, status.last_verification_error) == (
        False,
        "bad_signature",
    )


async def test_event_vectors_decrypt_and_are_stored(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    fake: FakeWeCom,
    vectors: dict[str, Any],
) -> None:
    # The approval callback carries no form: its "submitted" waits for the detail API.
    fake.approvals["202411240001"] = approval_detail(
        "202411240001",
        "zhangsan",
        1732429990,
        sp_name="报销",
        template_id="3TmALk1ogfgKiQE3e3jRwnTUhMTh8vca1CaBWPVR",
        approvers=[("lisi", 1, 0)],
        contents=[date_control("费用日期", 1732429990 - 3 * 86400)],
    )
    for vector in vectors["events"]:
        _at(wapp, vector["timestamp"])
        response = await web.post(
            "/wecom/callback",
            params={
                "msg_signature": vector["msg_signature"],
                "timestamp": vector["timestamp"],
                "nonce": vector["nonce"],
            },
            content=vector["post_body"].encode(),
            headers={"Content-Type": "text/xml"},
        )
        assert response.status_code == 200, response.text
        assert response.content == b""
    await wapp.state.queue.drain()
    async with pg.db.session() as session:
        rows = (await session.exec(select(ActivityEvent).order_by(ActivityEvent.type))).all()
        status = await session.get(CallbackStatus, 1)
    by_type = {row.type: row for row in rows}
    assert set(by_type) == {"app.entered", "approval.submitted"}
    assert all(row.source == "wecom" for row in rows)
    assert by_type["app.entered"].actor == "wangwu"
    submitted_event = by_type["approval.submitted"]
    assert submitted_event.external_id == "approval:202411240001:submitted"
    assert submitted_event.attributes["on_time"] is True
    assert ("POST", "/cgi-bin/oa/getapprovaldetail", {"sp_no": "202411240001"}) in fake.requests
    assert status is not None and status.last_callback_at is not None


# -- bad deliveries: each 4xx, counted, nothing stored -------------------------------------


def _vector_request(vector: dict[str, Any], **override: str) -> dict[str, Any]:
    params = {
        "msg_signature": vector["msg_signature"],
        "timestamp": vector["timestamp"],
        "nonce": vector["nonce"],
    }
    params.update(override)
    return {"params": params, "content": vector["post_body"].encode()}


def _sealed_request(crypto: CallbackCrypto, message: str) -> dict[str, Any]:
    sealed = crypto.post_body(message)
    return {"params": sealed.params, "content": sealed.body}


def _bad_padding_request(settings: Settings) -> dict[str, Any]:
    key = base64.b64decode(settings.WECOM_AES_KEY + "=")
    message = enter_agent_message(
        "wangwu", create_time=int(time.time()), corp_id=settings.WECOM_CORP_ID, agent_id="1"
    ).encode()
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message
    plain += settings.WECOM_CORP_ID.encode()
    plain += b"\x00" * (32 - len(plain) % 32)  # pad value 0: never valid PKCS#7
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    timestamp, nonce = str(int(time.time())), "padnonce"
    body = build_xml({"ToUserName": settings.WECOM_CORP_ID, "Encrypt": encrypt})
    return {
        "params": {
            "msg_signature": signature(settings.WECOM_TOKEN, timestamp, nonce, encrypt),
            "timestamp": timestamp,
            "nonce": nonce,
        },
        "content": body.encode(),
    }


BadRequest = Callable[[dict[str, Any], Settings, Starlette], dict[str, Any]]


def _tampered(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    vector = vectors["events"][0]
    _at(app, vector["timestamp"])
    return _vector_request(vector, msg_signature=vectors["tampered"]["msg_signature"])


def _wrong_corp(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    other = CallbackCrypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, "wwsomeothercorp")
    message = enter_agent_message(
        "wangwu", create_time=int(time.time()), corp_id="wwsomeothercorp", agent_id="1"
    )
    return _sealed_request(other, message)


def _bad_padding(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    return _bad_padding_request(settings)


def _replayed(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    # A genuine 2024 delivery replayed now: the real clock is far outside the window.
    return _vector_request(vectors["events"][1])


def _oversized(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    vector = vectors["events"][1]
    _at(app, vector["timestamp"])
    request = _vector_request(vector)
    request["content"] = b"<xml><Encrypt>" + b"A" * (300 * 1024) + b"</Encrypt></xml>"
    return request


def _outer_dtd(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    vector = vectors["events"][1]
    _at(app, vector["timestamp"])
    request = _vector_request(vector)
    request["content"] = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "' + b"x" * 64 + b'">]>'
        b"<xml><Encrypt>&e;&e;&e;</Encrypt></xml>"
    )
    return request


def _inner_entities(vectors: dict[str, Any], settings: Settings, app: Starlette) -> dict[str, Any]:
    crypto = CallbackCrypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<xml><MsgType>event</MsgType><Event>enter_agent</Event>"
        "<FromUserName>&b;</FromUserName><CreateTime>1</CreateTime></xml>"
    )
    return _sealed_request(crypto, laughs)


@pytest.mark.parametrize(
    ("build", "status", "reason"),
    [
        (_tampered, 403, "bad_signature"),
        (_wrong_corp, 403, "wrong_receiver"),
        (_bad_padding, 400, "bad_padding"),
        (_replayed, 403, "stale_timestamp"),
        (_oversized, 413, "body_too_large"),
        (_outer_dtd, 400, "forbidden_xml"),
        (_inner_entities, 400, "forbidden_xml"),
    ],
    ids=["tampered", "wrong-corp", "bad-padding", "replayed", "oversized", "dtd", "entities"],
)
async def test_a_bad_delivery_is_refused_counted_and_changes_nothing(
    web: httpx.AsyncClient,
    wapp: Starlette,
    pg: Store,
    settings: Settings,
    vectors: dict[str, Any],
    build: BadRequest,
    status: int,
    reason: str,
) -> None:
    before = await event_count(pg)
    counted = await rejected_count(web, reason)
    request = build(vectors, settings, wapp)
    response = await web.post(
        "/wecom/callback",
        params=request["params"],
        content=request["content"],
        headers={"Content-Type": "text/xml"},
    )
    await wapp.state.queue.drain()
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == reason
    assert await event_count(pg) == before
    assert await rejected_count(web, reason) == counted + 1
    async with pg.db.session() as session:
        assert await session.get(CallbackStatus, 1) is None


async def test_the_callback_is_absent_when_wecom_is_off(pg: Store) -> None:
    app = create_app(make_settings(pg.settings.DATABASE_URL))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/wecom/callback", content=b"<xml/>")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "wecom_disabled"


async def test_a_good_delivery_is_stored_once_and_answered_empty(
    web: httpx.AsyncClient, wapp: Starlette, pg: Store, settings: Settings, crypto: CallbackCrypto
) -> None:
    async with pg.db.session() as session:
        await make_employee(session, await make_department(session), userid="wangwu")
        await session.commit()
    message = enter_agent_message(
        "wangwu", create_time=int(time.time()), corp_id=settings.WECOM_CORP_ID, agent_id="1000002"
    )
    responses = [await deliver(web, wapp, crypto, message) for _ in range(4)]
    assert [(r.status_code, r.content) for r in responses] == [(200, b"")] * 4
    assert await event_count(pg) == 1


async def test_simulated_callbacks_are_accepted_and_award_points(
    web: httpx.AsyncClient, wapp: Starlette, pg: Store, settings: Settings
) -> None:
    from points.wecom.simulate import simulate

    async with pg.db.session() as session:
        team = await make_department(session)
        for userid in ("zhangsan", "lisi"):
            await make_employee(session, team, userid=userid)
        await session.commit()
    report = await simulate(settings, "/wecom/callback", 8, ["zhangsan", "lisi"], http=web)
    await wapp.state.queue.drain()
    assert report.accepted == 8
    async with pg.db.session() as session:
        types = set((await session.exec(select(ActivityEvent.type))).all())
    assert {"approval.decided", "customer.added", "customer.tagged", "app.entered"} <= types
