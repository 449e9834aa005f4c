"""The API client when WeCom misbehaves: unreadable and partial answers, a token it
keeps rejecting, paging cursors that repeat."""

from __future__ import annotations

import pytest

from points.devtools.fake_wecom import FakeWeCom
from points.wecom.client import WeComClient, WeComError, WeComUnavailable
from points.wecom.errors import RepeatedCursor, TokenCircuitOpen
from points.wecom.samples import approval_detail
from tests.support.wecom import RecordedSleeps

DEPARTMENTS = "/cgi-bin/department/list"
SEND = "/cgi-bin/message/send"


async def test_a_non_json_answer_is_retried_for_reads(
    client: WeComClient, fake: FakeWeCom, sleeps: RecordedSleeps
) -> None:
    fake.misbehave_next(DEPARTMENTS, "html", times=2)
    assert len(await client.list_departments()) == len(fake.departments)
    assert fake.paths_called().count(DEPARTMENTS) == 3 and len(sleeps.delays) == 2


async def test_a_non_json_answer_to_a_send_is_not_repeated(
    client: WeComClient, fake: FakeWeCom
) -> None:
    fake.misbehave_next(SEND, "html")
    with pytest.raises(WeComUnavailable, match="not JSON"):
        await client.send_message({"touser": "zhangsan", "agentid": fake.agent_id})
    assert fake.paths_called().count(SEND) == 1


async def test_a_success_without_its_data_is_retried_then_an_error(
    client: WeComClient, fake: FakeWeCom
) -> None:
    fake.misbehave_next("/cgi-bin/checkin/getcheckindata", "partial", times=10)
    with pytest.raises(WeComUnavailable, match="without checkindata"):
        await client.checkin_batch(1, 2, ["zhangsan"])
    assert fake.paths_called().count("/cgi-bin/checkin/getcheckindata") == 1 + client.max_retries


async def test_a_token_wecom_keeps_rejecting_costs_a_few_gettokens_not_one_per_call(
    client: WeComClient, fake: FakeWeCom
) -> None:
    fake.reject_tokens = True
    outcomes: list[type[WeComError]] = []
    for _ in range(100):
        with pytest.raises(WeComError) as info:
            await client.list_departments()
        outcomes.append(type(info.value))
    assert fake.tokens_issued == 4  # two refreshes, then the breaker holds
    assert outcomes.count(TokenCircuitOpen) == 98
    # WeCom accepts tokens again: after the pause the client recovers by itself.
    fake.reject_tokens = False
    await client.token_store.delete(client._breaker_key)  # the pause has passed
    assert await client.list_departments()


async def test_a_repeated_cursor_stops_paging(client: WeComClient, fake: FakeWeCom) -> None:
    fake.approvals = {
        f"2026{i:08d}": approval_detail(f"2026{i:08d}", "zhangsan", 1_700_000_000 + i)
        for i in range(7)
    }
    fake.stuck_cursor = True
    with pytest.raises(RepeatedCursor):
        await client.get_approval_sp_nos(1_699_999_000, 1_700_001_000)
    assert fake.paths_called().count("/cgi-bin/oa/getapprovalinfo") <= 3


def test_errors_about_one_record_do_not_stop_a_run() -> None:
    assert WeComError(301025, "sp_no not exist").is_about_the_record
    assert WeComError(40058, "invalid parameter").is_about_the_record
    for errcode in (-1, 40014, 42001, 45009, 45033, 60020, 40001, 48002, 50001):
        assert WeComError(errcode, "x").stops_the_run
