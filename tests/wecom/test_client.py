"""The API client against the fake WeCom: tokens, retries, backoff, paging, batching."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from points.devtools.fake_wecom import FakeWeCom, deliver_callback, serve_in_thread
from points.wecom.client import (
    InMemoryTokenStore,
    RedisTokenStore,
    WeComClient,
    WeComError,
    WeComUnavailable,
    split_window,
)
from points.wecom.mapping import DetailRequest, map_callback
from points.wecom.pull import pull_approvals, pull_checkins, resolve_detail_requests
from points.wecom.samples import approval_detail, date_control
from tests.support.wecom import RecordedSleeps

DAY = 86400


def make_client(
    fake: FakeWeCom, sleeps: RecordedSleeps | None = None, **kwargs: Any
) -> WeComClient:
    """A client over an ASGI transport (caller closes nothing: the transport is in-memory)."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    return WeComClient(
        "http://fake-wecom",
        kwargs.pop("corp_id", fake.corp_id),
        kwargs.pop("secret", fake.secret),
        kwargs.pop("token_store", InMemoryTokenStore()),
        http,
        sleep=sleeps or RecordedSleeps(),
        **kwargs,
    )


# -- tokens ----------------------------------------------------------------------------


async def test_token_is_cached(client: WeComClient, fake: FakeWeCom) -> None:
    await client.list_departments()
    await client.list_users(1)
    assert fake.tokens_issued == 1
    assert fake.paths_called().count("/cgi-bin/gettoken") == 1


async def test_expired_token_is_refreshed_once(client: WeComClient, fake: FakeWeCom) -> None:
    await client.list_departments()
    fake.expire_tokens()
    departments = await client.list_departments()
    assert len(departments) == 5
    assert fake.tokens_issued == 2
    assert fake.paths_called() == [
        "/cgi-bin/gettoken",
        "/cgi-bin/department/list",
        "/cgi-bin/department/list",  # answered 42001
        "/cgi-bin/gettoken",
        "/cgi-bin/department/list",
    ]


async def test_token_rejected_twice_is_an_error(client: WeComClient, fake: FakeWeCom) -> None:
    fake.fail_next("/cgi-bin/department/list", 40014, times=2)
    with pytest.raises(WeComError) as info:
        await client.list_departments()
    assert info.value.errcode == 40014
    assert fake.tokens_issued == 2


async def test_store_is_shared_between_clients(fake: FakeWeCom) -> None:
    store = InMemoryTokenStore()
    first, second = make_client(fake, token_store=store), make_client(fake, token_store=store)
    await first.list_departments()
    await second.list_departments()
    assert fake.tokens_issued == 1


async def test_token_is_refreshed_before_it_expires(fake: FakeWeCom) -> None:
    now = [1000.0]
    client = make_client(fake, token_store=InMemoryTokenStore(clock=lambda: now[0]))
    await client.list_departments()
    now[0] += 7200 - 300 - 1
    await client.list_departments()
    assert fake.tokens_issued == 1
    now[0] += 2  # inside the last five minutes: fetch a new one before WeCom expires it
    await client.list_departments()
    assert fake.tokens_issued == 2


async def test_redis_token_store(redis_client: Any, fake: FakeWeCom) -> None:
    prefix = f"test:wecom:{uuid.uuid4().hex}:"
    store = RedisTokenStore(redis_client, prefix=prefix)
    try:
        await store.set("k", "v1", 60)
        assert await store.get("k") == "v1"
        await store.delete("k", only_if="other")  # someone already replaced it: keep
        assert await store.get("k") == "v1"
        await store.delete("k", only_if="v1")
        assert await store.get("k") is None
        await store.set("short", "x", 0.001)  # rounded up to 1 s, then gone
        assert await redis_client.pttl(prefix + "short") <= 1000

        first = make_client(fake, token_store=store)
        second = make_client(fake, token_store=RedisTokenStore(redis_client, prefix=prefix))
        await first.list_departments()
        await second.list_departments()
        assert fake.tokens_issued == 1
        keys = [k.decode() async for k in redis_client.scan_iter(match=prefix + "*")]
        assert keys and all(fake.secret not in k for k in keys)
    finally:
        async for key in redis_client.scan_iter(match=prefix + "*"):
            await redis_client.delete(key)


# -- errors and backoff ----------------------------------------------------------------


async def test_rate_limit_backs_off_then_succeeds(
    client: WeComClient, fake: FakeWeCom, sleeps: RecordedSleeps
) -> None:
    await client.list_departments()
    fake.rate_limit_next(2)
    assert len(await client.list_departments()) == 5
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5 and 0.5 <= sleeps.delays[1] <= 1.0


async def test_http_429_backs_off(
    client: WeComClient, fake: FakeWeCom, sleeps: RecordedSleeps
) -> None:
    fake.rate_limit_next(1, http_429=True)
    assert await client.list_departments()
    assert len(sleeps.delays) == 1


async def test_rate_limit_gives_up_after_bounded_retries(
    client: WeComClient, fake: FakeWeCom, sleeps: RecordedSleeps
) -> None:
    await client.list_departments()
    fake.rate_limit_next(10, path="/cgi-bin/department/list")
    with pytest.raises(WeComError) as info:
        await client.list_departments()
    assert info.value.errcode == 45009 and info.value.is_rate_limited
    assert len(sleeps.delays) == client.max_retries == 3


async def test_untrusted_ip_explains_the_fix(client: WeComClient, fake: FakeWeCom) -> None:
    fake.untrusted_ip = True
    with pytest.raises(WeComError) as info:
        await client.list_departments()
    error = info.value
    assert error.errcode == 60020 and error.is_config_error
    assert "企业可信IP" in str(error) and "Trusted IPs" in str(error)
    assert "from ip: 127.0.0.1" in str(error)
    assert fake.secret not in str(error)


async def test_injected_60020_once(client: WeComClient, fake: FakeWeCom) -> None:
    fake.fail_next("/cgi-bin/user/list", 60020, "not allow to access from your ip")
    with pytest.raises(WeComError):
        await client.list_users(2)
    assert await client.list_users(2)


async def test_bad_corp_id(fake: FakeWeCom) -> None:
    client = make_client(fake, corp_id="wwwrong")
    with pytest.raises(WeComError) as info:
        await client.list_departments()
    assert info.value.errcode == 40013
    assert "POINTS_WECOM_CORP_ID" in str(info.value) and "企业ID" in str(info.value)


async def test_bad_secret_is_not_retried(fake: FakeWeCom) -> None:
    client = make_client(fake, secret="wrong-secret")
    with pytest.raises(WeComError) as info:
        await client.list_departments()
    assert info.value.errcode == 40001 and info.value.is_config_error
    assert "POINTS_WECOM_SECRET" in str(info.value)
    assert "wrong-secret" not in str(info.value) + repr(client)
    assert fake.paths_called() == ["/cgi-bin/gettoken"]


async def test_network_errors_retry_idempotent_calls_only() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/cgi-bin/gettoken":
            return httpx.Response(200, json={"errcode": 0, "access_token": "t", "expires_in": 7200})
        raise httpx.ConnectError("boom", request=request)

    sleeps = RecordedSleeps()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = WeComClient("http://x", "corp", "secret", http=http, sleep=sleeps)
    with pytest.raises(WeComUnavailable):
        await client.list_departments()
    assert calls.count("/cgi-bin/department/list") == 4  # first try + 3 retries
    with pytest.raises(WeComUnavailable):
        await client.send_message({"touser": "a", "msgtype": "text"})
    assert calls.count("/cgi-bin/message/send") == 1  # never risk sending twice
    await http.aclose()


# -- paging, windows, batches ----------------------------------------------------------


def test_split_window() -> None:
    windows = split_window(0, 70 * DAY, 31 * DAY)
    assert windows == [(0, 31 * DAY), (31 * DAY + 1, 62 * DAY + 1), (62 * DAY + 2, 70 * DAY)]
    assert split_window(5, 5, 10) == [(5, 5)]
    with pytest.raises(ValueError):
        split_window(10, 5, 10)


async def test_paging_collects_every_sp_no(client: WeComClient, fake: FakeWeCom) -> None:
    now = int(time.time())
    sp_nos = await client.get_approval_sp_nos(now - 30 * DAY, now)
    assert sorted(sp_nos) == sorted(fake.approvals)
    assert len(sp_nos) == 6
    assert fake.paths_called().count("/cgi-bin/oa/getapprovalinfo") == 3  # pages of 2


async def test_long_ranges_are_split_into_31_day_windows(
    client: WeComClient, fake: FakeWeCom
) -> None:
    end = 1_732_430_000
    start = end - 100 * DAY
    fake.approvals = {
        f"9{i:03d}": approval_detail(f"9{i:03d}", "zhangsan", start + i * 10 * DAY)
        for i in range(11)
    }
    sp_nos = await client.get_approval_sp_nos(start, end)
    assert sorted(sp_nos) == sorted(fake.approvals)
    assert len(fake.approval_windows) >= 4
    assert all(hi - lo <= 31 * DAY for lo, hi in fake.approval_windows)
    assert fake.approval_windows[0][0] == start and fake.approval_windows[-1][1] == end


async def test_checkins_batch_users_and_windows(client: WeComClient, fake: FakeWeCom) -> None:
    now = int(time.time())
    userids = [f"u{i}" for i in range(250)] + ["zhangsan"]
    records = await client.get_checkin_data(now - 45 * DAY, now, userids)
    assert {r["userid"] for r in records} == {"zhangsan"}
    bodies = [b for _, p, b in fake.requests if p == "/cgi-bin/checkin/getcheckindata"]
    assert len(bodies) == 2 * 3  # two windows × three batches of ≤100 users
    assert all(len(b["useridlist"]) <= 100 for b in bodies)


async def test_contacts(client: WeComClient) -> None:
    assert {d["name"] for d in await client.list_departments(3)} == {"销售部", "华东销售组"}
    assert [u["userid"] for u in await client.list_users(3)] == ["wangwu"]
    everyone = await client.list_users(3, fetch_child=True)
    assert {u["userid"] for u in everyone} == {"wangwu", "zhaoliu"}


async def test_behavior_data_per_user(client: WeComClient) -> None:
    now = int(time.time())
    data = await client.get_user_behavior_data(["wangwu", "zhaoliu", "lisi"], now - 7 * DAY, now)
    assert [row["chat_cnt"] for row in data["wangwu"]] == [3, 2, 1]
    assert data["lisi"] == []


async def test_send_message_is_recorded(client: WeComClient, fake: FakeWeCom) -> None:
    answer = await client.send_message(
        {
            "touser": "zhangsan|ghost",
            "msgtype": "text",
            "agentid": fake.agent_id,
            "text": {"content": "本周积分 +15"},
        }
    )
    assert answer["invaliduser"] == "ghost"
    assert fake.sent_messages[0]["text"]["content"] == "本周积分 +15"


async def test_oauth_code_exchange(client: WeComClient) -> None:
    user = await client.get_user_by_oauth_code("code-zhangsan")
    assert user.userid == "zhangsan"
    with pytest.raises(WeComError) as info:  # codes are single-use
        await client.get_user_by_oauth_code("code-zhangsan")
    assert info.value.errcode == 40029


# -- pull connectors -------------------------------------------------------------------


async def test_pull_approvals_maps_every_detail(client: WeComClient, fake: FakeWeCom) -> None:
    now = int(time.time())
    fake.approvals["404"] = approval_detail("404", "zhangsan", now - DAY)
    fake.fail_next("/cgi-bin/oa/getapprovaldetail", 301025)
    result = await pull_approvals(client, now - 30 * DAY, now)
    ids = {e.external_id for e in result.events}
    # The oldest approval's detail failed: recorded, and the run went on.
    assert result.failures == {"202400000000": "errcode 301025"}
    assert {"approval:202400000001:submitted", "approval:202400000001:approved"} <= ids
    assert "approval:404:submitted" in ids
    leave = [e for e in result.events if e.external_id == "approval:202499990001:submitted"]
    assert leave and leave[0].attributes["on_time"] is True


async def test_pull_checkins(client: WeComClient) -> None:
    now = int(time.time())
    events = await pull_checkins(client, now - 7 * DAY, now, ["zhangsan", "lisi"])
    assert len(events) == 6
    assert {e.actor for e in events} == {"zhangsan", "lisi"}


async def test_resolve_detail_requests(client: WeComClient, fake: FakeWeCom) -> None:
    now = int(time.time())
    applied = now - DAY
    fake.approvals["5001"] = approval_detail(
        "5001", "zhangsan", applied, contents=[date_control("费用日期", applied - DAY)]
    )
    fake.external_contacts["wmEXT"] = {
        "external_contact": {"external_userid": "wmEXT", "name": "客户A"},
        "follow_user": [{"userid": "wangwu", "tags": [{"tag_id": "et1"}, {"tag_id": "et2"}]}],
    }
    fake.group_chats["wrCHAT"] = {"chat_id": "wrCHAT", "owner": "zhaoliu", "member_list": []}
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(now, UTC)
    events = await resolve_detail_requests(
        client,
        [
            DetailRequest("approval", "5001"),
            DetailRequest("external_contact", "wmEXT", userid="wangwu", occurred_at=at),
            DetailRequest("group_chat", "wrCHAT", occurred_at=at),
        ],
    )
    by_type = {e.type: e for e in events}
    assert by_type["approval.submitted"].attributes["on_time"] is True
    assert by_type["customer.tagged"].attributes["tag_ids"] == ["et1", "et2"]
    assert by_type["customer_group.created"].actor == "zhaoliu"


# -- a real port -----------------------------------------------------------------------


async def test_fake_server_on_a_localhost_port(fake: FakeWeCom) -> None:
    with serve_in_thread(fake.app()) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with WeComClient(base_url, fake.corp_id, fake.secret) as client:
            fake.expire_tokens()
            assert len(await client.list_departments()) == 5
            fake.expire_tokens()
            assert len(await client.list_departments()) == 5
            assert fake.tokens_issued == 2


async def test_deliver_callback_helper(crypto: Any) -> None:
    """The fake can push encrypted callbacks to any app, here a tiny echo of the route."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    seen: list[dict[str, Any]] = []

    async def route(request: Request) -> PlainTextResponse:
        q = request.query_params
        message = crypto.open_callback(
            q["msg_signature"], q["timestamp"], q["nonce"], await request.body()
        )
        seen.append(message)
        return PlainTextResponse("")

    app = Starlette(routes=[Route("/wecom/callback", route, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as http:
        xml = "<xml><MsgType>event</MsgType><Event>enter_agent</Event>"
        xml += "<FromUserName>zhangsan</FromUserName><CreateTime>1732430000</CreateTime></xml>"
        response, _ = await deliver_callback(http, "/wecom/callback", crypto, xml)
    assert response.status_code == 200
    assert map_callback(seen[0]).events[0].actor == "zhangsan"
