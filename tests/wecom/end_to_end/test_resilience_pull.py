"""Pull connectors against a misbehaving WeCom: rate limits, configuration errors,
token storms, bad records, long outages, repeated cursors and empty answers.

Every activity must end up stored and scored exactly once; the clock is injected,
so minutes of backoff pass without waiting.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent, EventStatus
from points.jobs import InlineQueue, JobContext, job_function
from points.ledger.models import LedgerTransaction
from points.settings import Settings
from points.wecom.client import WeComError
from points.wecom.connectors import BACKOFF_CAP, SAFETY_MARGIN, backoff_delay
from points.wecom.jobs import run_connector_job
from points.wecom.models import ConnectorState, QuarantinedRecord
from points.wecom.samples import approval_detail, date_control
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import Clock

HOUR = 3600
DAY = 86400
LIST = "/cgi-bin/oa/getapprovalinfo"
DETAIL = "/cgi-bin/oa/getapprovaldetail"
CHECKIN = "/cgi-bin/checkin/getcheckindata"
APPROVALS = "wecom_pull_approvals"
CHECKINS = "wecom_pull_checkins"
BEHAVIOR = "wecom_pull_behavior"


async def _staff(store: Store, userids: tuple[str, ...] = ("zhangsan", "lisi")) -> None:
    async with store.db.session() as session:
        team = await make_department(session, "销售部")
        for userid in userids:
            await make_employee(session, team, userid=userid, name=userid)
        await session.commit()


def _expense(sp_no: str, applied: int) -> dict[str, Any]:
    """An on-time expense by zhangsan, approved by lisi an hour later: two awards."""
    return approval_detail(
        sp_no,
        "zhangsan",
        applied,
        sp_name="报销",
        sp_status=2,
        approvers=[("lisi", 2, applied + HOUR)],
        contents=[date_control("费用日期", applied - 5 * DAY)],
    )


def _approvals(fake: FakeWeCom, clock: Clock, count: int, *, spread: int = 20 * HOUR) -> list[str]:
    now = int(clock.now.timestamp())
    step = max(1, spread // count)
    numbers = [f"2026{index:08d}" for index in range(count)]
    fake.approvals = {
        sp_no: _expense(sp_no, now - spread - HOUR + index * step)
        for index, sp_no in enumerate(numbers)
    }
    return numbers


async def _state(store: Store, name: str) -> ConnectorState:
    async with store.db.session() as session:
        state = await session.get(ConnectorState, name)
    assert state is not None
    return state


async def _awards_per_approval(store: Store) -> Counter[str]:
    """Scored events per approval (three each: submitted, decided, approved), after
    checking that no rule awarded any event more than once."""
    async with store.db.session() as session:
        per_event = Counter(
            (
                await session.exec(
                    select(LedgerTransaction.event_id, LedgerTransaction.rule_id).where(
                        col(LedgerTransaction.event_id).is_not(None)
                    )
                )
            ).all()
        )
        scored = (
            await session.exec(
                select(ActivityEvent.external_id).where(ActivityEvent.status == EventStatus.scored)
            )
        ).all()
    assert set(per_event.values()) <= {1}, "a rule awarded one event twice"
    return Counter(external_id.split(":")[1] for external_id in scored)


async def _event_ids(store: Store) -> list[str]:
    async with store.db.session() as session:
        return list((await session.exec(select(ActivityEvent.external_id))).all())


def _details_requested(fake: FakeWeCom, since: int = 0) -> list[str]:
    return [str(body["sp_no"]) for _m, path, body in fake.requests[since:] if path == DETAIL]


# -- rate limits ---------------------------------------------------------------------


async def test_45009_after_15_of_40_details_pauses_then_brings_all_40_in_once(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 40)
    fake.page_size = 100
    fake.limits[DETAIL] = 15

    first = await run_connector_job(timed_jobs, APPROVALS)
    assert first["throttled"] is True and first["errcode"] == 45009
    state = await _state(pg, "approvals")
    assert state.status == "throttled" and state.last_success_at is None
    assert state.backoff_until is not None
    pause = state.backoff_until - clock.now
    assert timedelta(seconds=90) <= pause <= timedelta(minutes=2)
    # The job is rescheduled for the end of the pause, not failed.
    assert [(name, round(seconds)) for seconds, name, _kw in timed_jobs.deferred] == [
        (APPROVALS, round(pause.total_seconds()))
    ]
    assert set(_details_requested(fake)) == set(numbers[:16])  # the 16th was refused
    assert len(await _event_ids(pg)) == 15 * 3  # what was fetched is stored

    # A scheduled run during the pause does not call WeCom at all.
    calls = len(fake.requests)
    assert (await run_connector_job(timed_jobs, APPROVALS))["throttled"] is True
    assert len(fake.requests) == calls

    # The limit passes; the rescheduled run resumes exactly where the first stopped.
    fake.limits.clear()
    clock.advance(pause)
    second = await run_connector_job(timed_jobs, APPROVALS)
    assert second["created"] == 25 * 3
    assert _details_requested(fake, calls) == numbers[15:]
    state = await _state(pg, "approvals")
    assert (state.status, state.backoff_level, state.backoff_until) == ("ok", 0, None)
    assert state.position == {}
    awards = await _awards_per_approval(pg)
    assert awards == Counter({sp_no: 3 for sp_no in numbers})  # each scored exactly once


async def test_backoff_grows_is_capped_and_jittered(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    assert [backoff_delay(level, lambda: 1.0) for level in (1, 2, 3)] == [
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert backoff_delay(30, lambda: 1.0) == BACKOFF_CAP
    assert backoff_delay(1, lambda: 0.0) == timedelta(minutes=1, seconds=30)

    await _staff(pg)
    _approvals(fake, clock, 3)
    fake.limits[LIST] = 0  # WeCom keeps answering 45009 for a while
    pauses = []
    for _ in range(3):
        result = await run_connector_job(timed_jobs, APPROVALS)
        assert result["throttled"] is True
        state = await _state(pg, "approvals")
        assert state.backoff_until is not None
        pauses.append(state.backoff_until - clock.now)
        clock.advance(pauses[-1])
    assert pauses[0] < pauses[1] < pauses[2] <= BACKOFF_CAP
    assert (await _state(pg, "approvals")).backoff_level == 3


async def test_45033_is_a_rate_limit_too(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    _approvals(fake, clock, 2)
    fake.fail_next(LIST, 45033, "api concurrent out of limit", times=4)
    assert (await run_connector_job(timed_jobs, APPROVALS))["errcode"] == 45033
    assert (await _state(pg, "approvals")).status == "throttled"


# -- configuration errors and tokens -------------------------------------------------------


async def test_60020_stops_at_once_and_says_how_to_fix_it(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    _approvals(fake, clock, 2)
    fake.untrusted_ip = True
    result = await run_connector_job(timed_jobs, APPROVALS)  # not raised: no queue retries
    assert result["status"] == "misconfigured" and "60020" in result["error"]
    assert fake.paths_called().count(LIST) == 1  # not retried
    assert timed_jobs.deferred == []
    state = await _state(pg, "approvals")
    assert state.status == "misconfigured"
    assert state.last_error is not None and "企业可信IP" in state.last_error


async def test_a_bad_secret_stops_at_once(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    fake.secret = "reset-in-the-console"
    result = await run_connector_job(timed_jobs, APPROVALS)
    assert result["status"] == "misconfigured" and "40001" in result["error"]
    assert fake.paths_called() == ["/cgi-bin/gettoken"]


async def test_a_token_wecom_keeps_rejecting_cannot_cause_a_gettoken_storm(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    _approvals(fake, clock, 99)
    fake.page_size = 100
    fake.reject_tokens = True
    for _ in range(5):
        with pytest.raises(WeComError):
            await run_connector_job(timed_jobs, APPROVALS)
    # Two runs refresh once each; then the breaker stops fetching tokens at all.
    assert fake.tokens_issued == 4
    state = await _state(pg, "approvals")
    assert state.status == "failed" and state.failures == 5
    assert state.last_error is not None and "gettoken" in state.last_error


# -- every documented error code, then recovery ----------------------------------------------


@pytest.mark.parametrize("errcode", [-1, 40014, 42001, 45009, 45033, 60020, 48002, 40001, 50001])
async def test_each_error_code_mid_run_loses_and_doubles_nothing(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, errcode: int
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 8)
    fake.fail_after(DETAIL, 3, errcode, times=8)  # outlasts the client's own retries
    with contextlib.suppress(WeComError):  # transient failures are raised for the queue
        await run_connector_job(timed_jobs, APPROVALS)
    state = await _state(pg, "approvals")
    assert state.status in {"throttled", "failed", "misconfigured"}
    assert state.window_end is None  # nothing beyond the stored records is claimed
    fake.clear_injected()
    clock.advance(timedelta(hours=2))
    await run_connector_job(timed_jobs, APPROVALS)
    assert (await _state(pg, "approvals")).status == "ok"
    assert await _awards_per_approval(pg) == Counter({sp_no: 3 for sp_no in numbers})


async def test_an_approval_wecom_no_longer_has_is_quarantined_the_rest_scored(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 4)
    fake.fail_after(DETAIL, 1, 301025, "sp_no not exist")
    result = await run_connector_job(timed_jobs, APPROVALS)
    assert (result["skipped"], result["created"]) == (1, 9)
    assert set(await _awards_per_approval(pg)) == {numbers[0], *numbers[2:]}


# -- malformed records ----------------------------------------------------------------------


async def test_bad_check_in_records_are_quarantined_and_the_rest_scored(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _staff(pg, tuple(u["userid"] for u in fake.users))
    yesterday = int((clock.now - timedelta(days=1)).timestamp())
    fake.junk_checkins = [
        None,
        "garbage",
        {"userid": "zhangsan", "checkin_time": 0, "checkin_type": "上班打卡"},
        {"checkin_time": yesterday, "checkin_type": "上班打卡"},
        {"userid": "lisi", "checkin_time": 86400 * 365, "checkin_type": "上班打卡"},  # 1971
    ]
    clock.now = _local_noon(clock.now, settings)
    first = await run_connector_job(timed_jobs, CHECKINS)
    assert first["created"] == len(fake.users)  # yesterday's check-in of each person
    assert first["skipped"] == 5
    assert first["skipped_reasons"] == {
        "impossible checkin_time": 2,
        "not an object": 2,
        "missing userid": 1,
    }
    records = await _quarantine(pg)
    assert sorted(r.raw for r in records if r.reason == "not an object") == ['"garbage"', "null"]
    # The next run meets the same bad records: no crash, counted, not duplicated.
    clock.advance(timedelta(days=1))
    second = await run_connector_job(timed_jobs, CHECKINS)
    assert second["skipped"] == 5
    records = await _quarantine(pg)
    assert len(records) == 5 and {r.times_seen for r in records} == {2}


async def test_a_behaviour_row_without_stat_time_is_quarantined(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _staff(pg, ("wangwu", "zhaoliu"))
    fake.junk_behavior = [{"chat_cnt": 3, "message_cnt": 9}, None]
    clock.now = _local_noon(clock.now, settings)
    result = await run_connector_job(timed_jobs, BEHAVIOR)
    assert result["rows"] == 2 and result["skipped"] == 4
    reasons = Counter(r.reason for r in await _quarantine(pg))
    assert reasons == Counter({"missing stat_time": 2, "not an object": 2})
    again = await run_connector_job(timed_jobs, BEHAVIOR)
    assert again == {"skipped": "up to date"}


async def test_an_approval_without_apply_time_is_refused_not_dated_1970(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 2)
    # Listed by its time, but the detail WeCom answers has none.
    broken = {k: v for k, v in fake.approvals[numbers[1]].items() if k != "apply_time"}
    fake.detail_answers[numbers[1]] = broken
    result = await run_connector_job(timed_jobs, APPROVALS)
    assert (result["created"], result["skipped_reasons"]) == (3, {"impossible apply_time": 1})
    (record,) = await _quarantine(pg)
    assert numbers[1] in record.raw and "apply_time" not in record.raw
    async with pg.db.session() as session:
        oldest = (await session.exec(select(func.min(ActivityEvent.occurred_at)))).one()
    assert oldest is not None and oldest.year >= 2020


# -- windows ------------------------------------------------------------------------------------


def _local_noon(moment: datetime, settings: Settings) -> datetime:
    local = moment.astimezone(settings.zone)
    return datetime.combine(local.date(), time(12), tzinfo=settings.zone)


async def test_after_a_45_day_outage_check_ins_of_all_45_days_arrive(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _staff(pg)
    clock.now = _local_noon(clock.now, settings)
    today = clock.now.replace(hour=0)
    fake.checkins = [
        {
            "userid": userid,
            "checkin_type": "上班打卡",
            "exception_type": "",
            "checkin_time": int((today - timedelta(days=days, hours=-9)).timestamp()),
        }
        for userid in ("zhangsan", "lisi")
        for days in range(1, 47)
    ]
    async with pg.db.session() as session:
        session.add(
            ConnectorState(name="checkins", window_end=today - timedelta(days=45, seconds=1))
        )
        await session.commit()
    result = await run_connector_job(timed_jobs, CHECKINS)
    assert result["created"] == 2 * 45 and result["chunks"] == 2
    state = await _state(pg, "checkins")
    assert state.window_end == today - timedelta(seconds=1)
    days = {e.split(":")[2] for e in await _event_ids(pg)}
    assert len(days) == 45  # day 46 was already stored before the outage


async def test_after_a_75_day_outage_approvals_arrive_in_31_day_chunks(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 30, spread=74 * DAY)
    async with pg.db.session() as session:
        session.add(ConnectorState(name="approvals", window_end=clock.now - timedelta(days=76)))
        await session.commit()
    result = await run_connector_job(timed_jobs, APPROVALS)
    assert result["chunks"] == 3
    assert all(hi - lo <= 31 * DAY for lo, hi in fake.approval_windows)
    assert await _awards_per_approval(pg) == Counter({sp_no: 3 for sp_no in numbers})


async def test_a_repeated_cursor_stops_the_run_with_an_error(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    numbers = _approvals(fake, clock, 7)
    fake.stuck_cursor = True
    with pytest.raises(WeComError, match="same cursor"):
        await run_connector_job(timed_jobs, APPROVALS)
    assert fake.paths_called().count(LIST) <= 3
    state = await _state(pg, "approvals")
    assert state.status == "failed" and state.window_end is None
    assert state.last_error is not None and "same cursor" in state.last_error
    # The next run lists the chunk afresh rather than from the cursor WeCom repeated.
    fake.stuck_cursor = False
    await run_connector_job(timed_jobs, APPROVALS)
    assert await _awards_per_approval(pg) == Counter({sp_no: 3 for sp_no in numbers})


async def test_an_empty_success_does_not_move_the_window_past_the_safety_margin(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _staff(pg)
    fake.checkins = []
    midnight = _local_noon(clock.now, settings).replace(hour=0)
    clock.now = midnight + timedelta(minutes=10)  # yesterday ended 10 minutes ago
    async with pg.db.session() as session:
        session.add(
            ConnectorState(name="checkins", window_end=midnight - timedelta(days=3, seconds=1))
        )
        await session.commit()
    result = await run_connector_job(timed_jobs, CHECKINS)
    assert result["created"] == 0
    state = await _state(pg, "checkins")
    assert state.window_end is not None
    assert state.window_end <= clock.now - SAFETY_MARGIN["checkins"]
    assert state.window_end == midnight - timedelta(days=1, seconds=1)  # yesterday: not yet


async def test_a_success_without_checkindata_is_not_an_empty_day(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock, settings: Settings
) -> None:
    await _staff(pg)
    clock.now = _local_noon(clock.now, settings)
    fake.misbehave_next(CHECKIN, "partial", times=4)
    with pytest.raises(WeComError, match="without checkindata"):
        await run_connector_job(timed_jobs, CHECKINS)
    assert (await _state(pg, "checkins")).window_end is None
    result = await run_connector_job(timed_jobs, CHECKINS)
    assert result["created"] == 2


async def _quarantine(store: Store) -> list[QuarantinedRecord]:
    async with store.db.session() as session:
        return list((await session.exec(select(QuarantinedRecord))).all())


async def test_60020_while_completing_callbacks_is_reported_not_retried(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    (sp_no,) = _approvals(fake, clock, 1)
    fake.untrusted_ip = True
    result = await job_function("wecom_fetch_details")(
        JobContext(timed_jobs.settings, timed_jobs.db, timed_jobs, clock),
        requests=[{"kind": "approval", "key": sp_no, "userid": "", "occurred_at": None}],
    )
    assert "60020" in result["error"] and fake.paths_called().count(DETAIL) == 1
