"""The outbox against a misbehaving WeCom: every message is delivered once or reported."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from points.devtools.fake_wecom import FakeWeCom
from points.jobs import InlineQueue
from points.notifications.models import Notification
from points.wecom.jobs import run_connector_job
from points.wecom.messages import DUPLICATE_CHECK_SECONDS, MAX_ATTEMPTS, UNCERTAIN_RETRY_SECONDS
from tests.support.services import Store
from tests.support.wecom import Clock

SEND = "/cgi-bin/message/send"
OUTBOX = "wecom_send_outbox"


async def _queue(store: Store, *notes: tuple[str, str]) -> None:
    async with store.db.session() as session:
        for userid, title in notes:
            session.add(Notification(userid=userid, kind="notice", title=title, body=title))
        await session.commit()


async def _outbox(store: Store) -> dict[str, Notification]:
    async with store.db.session() as session:
        rows = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
    return {f"{n.userid}/{n.title}": n for n in rows}


async def test_invalid_and_unlicensed_users_are_recorded_as_not_delivered(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue
) -> None:
    fake.unlicensed = {"lisi"}
    # WeCom answers an unknown "WangXiao" lower-cased in invaliduser.
    await _queue(pg, ("zhangsan", "通知"), ("WangXiao", "通知"), ("lisi", "通知"))
    result = await run_connector_job(timed_jobs, OUTBOX)
    assert (result["sent"], result["undeliverable"], result["calls"]) == (1, 2, 1)
    assert fake.sent_messages[-1]["touser"] == "zhangsan|WangXiao|lisi"
    outbox = await _outbox(pg)
    assert outbox["zhangsan/通知"].sent_at is not None
    for key, reason in (("WangXiao/通知", "invaliduser"), ("lisi/通知", "unlicenseduser")):
        note = outbox[key]
        assert note.sent_at is None and note.attempts == MAX_ATTEMPTS
        assert note.last_error is not None and note.last_error.startswith(reason)
    # Never retried, never counted as sent.
    assert (await run_connector_job(timed_jobs, OUTBOX)) == {
        "sent": 0,
        "calls": 0,
        "deferred": 0,
        "failed": 0,
    }
    assert fake.deliveries == [("zhangsan", "通知")]


async def test_60020_on_the_first_message_leaves_the_others_unsent_and_queued(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue
) -> None:
    await _queue(pg, ("zhangsan", "一"), ("lisi", "二"), ("wangwu", "三"))
    fake.fail_next(SEND, 60020, "not allow to access from your ip, from ip: 10.0.0.1")
    result = await run_connector_job(timed_jobs, OUTBOX)  # stopped, not raised
    assert result["calls"] == 1 and result["sent"] == 0 and "60020" in result["stopped"]
    assert fake.deliveries == []
    for note in (await _outbox(pg)).values():
        assert note.sent_at is None and note.attempts == 0  # queued, no attempt spent
    assert "60020" in str((await _outbox(pg))["zhangsan/一"].last_error)
    again = await run_connector_job(timed_jobs, OUTBOX)
    assert again["sent"] == 3
    assert sorted(fake.deliveries) == [("lisi", "二"), ("wangwu", "三"), ("zhangsan", "一")]


async def test_a_rate_limit_stops_the_run_and_releases_the_claim(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue
) -> None:
    await _queue(pg, ("zhangsan", "一"), ("lisi", "二"))
    fake.fail_next(SEND, 45009, "api freq out of limit", times=4)
    result = await run_connector_job(timed_jobs, OUTBOX)
    assert result["sent"] == 0 and "45009" in result["stopped"]
    assert all(n.sent_at is None and n.attempts == 0 for n in (await _outbox(pg)).values())
    assert (await run_connector_job(timed_jobs, OUTBOX))["sent"] == 2


async def test_a_timeout_after_delivery_is_retried_safely_and_delivered_once(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _queue(pg, ("zhangsan", "一"), ("lisi", "一"))
    fake.misbehave_next(SEND, "after")  # WeCom delivers, then the answer is lost
    first = await run_connector_job(timed_jobs, OUTBOX)
    assert (first["sent"], first["uncertain"]) == (0, 2)
    assert sorted(fake.deliveries) == [("lisi", "一"), ("zhangsan", "一")]
    key = (await _outbox(pg))["zhangsan/一"].send_key
    assert key is not None
    first_payload = fake.sent_messages[-1]
    assert first_payload["enable_duplicate_check"] == 1
    assert first_payload["duplicate_check_interval"] == DUPLICATE_CHECK_SECONDS
    assert DUPLICATE_CHECK_SECONDS > UNCERTAIN_RETRY_SECONDS

    clock.advance(timedelta(minutes=5))  # the next outbox run
    second = await run_connector_job(timed_jobs, OUTBOX)
    assert second["sent"] == 2
    assert fake.sent_messages[-1] == first_payload  # the exact same message, same key
    assert len(fake.deliveries) == 2  # WeCom's duplicate check dropped the repeat
    outbox = await _outbox(pg)
    assert all(n.sent_at is not None and n.send_key is None for n in outbox.values())
    assert (await run_connector_job(timed_jobs, OUTBOX))["calls"] == 0


async def test_a_send_of_unknown_outcome_is_reported_once_the_duplicate_window_passes(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _queue(pg, ("zhangsan", "一"))
    fake.misbehave_next(SEND, "after")
    await run_connector_job(timed_jobs, OUTBOX)
    sends = len(fake.sent_messages)
    clock.advance(timedelta(seconds=UNCERTAIN_RETRY_SECONDS + 60))
    late = await run_connector_job(timed_jobs, OUTBOX)
    assert late["undeliverable"] == 1 and len(fake.sent_messages) == sends  # not resent
    note = (await _outbox(pg))["zhangsan/一"]
    assert note.attempts == MAX_ATTEMPTS and "delivery unknown" in str(note.last_error)
