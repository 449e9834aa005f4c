"""The daily digest and the outbox: batched, at most once, within per-person limits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from points.db import utcnow
from points.devtools.fake_wecom import FakeWeCom
from points.jobs import InlineQueue
from points.notifications.models import Notification
from points.settings import Settings
from points.wecom.jobs import run_connector_job
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


async def test_a_daily_digest_goes_to_each_person_who_earned_once(
    pg: Store, fake: FakeWeCom, settings: Settings, jobs: InlineQueue
) -> None:
    async with pg.db.session() as session:
        team = await make_department(session)
        await make_employee(session, team, userid="zhangsan")
        await make_employee(session, team, userid="lisi")
        await session.commit()
    now = utcnow().astimezone(settings.zone)
    await send(
        pg,
        [
            event(
                "a:1",
                "approval.submitted",
                "zhangsan",
                now,
                template="报销",
                sp_no="1",
                on_time=True,
            )
        ],
    )
    first = await jobs_run_digest(jobs, now)
    assert (first["queued"], first["sent"], first["calls"]) == (1, 1, 1)
    message = fake.sent_messages[0]
    assert message["touser"] == "zhangsan" and message["msgtype"] == "textcard"
    assert "今天你获得 5 积分" in message["textcard"]["description"]
    assert message["textcard"]["url"] == "https://points.example.com/"
    again = await jobs_run_digest(jobs, now)
    assert (again["queued"], again["sent"]) == (0, 0)
    assert len(fake.sent_messages) == 1


async def jobs_run_digest(jobs: InlineQueue, now: datetime) -> dict[str, object]:
    from points.jobs import job_function

    result: dict[str, object] = await job_function("wecom_daily_digest")(
        _ctx(jobs), day=now.date().isoformat()
    )
    return result


def _ctx(jobs: InlineQueue) -> object:
    from points.jobs import JobContext

    return JobContext(jobs.settings, jobs.db, jobs)


async def test_the_outbox_batches_recipients_and_respects_daily_limits(
    pg: Store, fake: FakeWeCom, jobs: InlineQueue
) -> None:
    async with pg.db.session() as session:
        for userid in ("zhangsan", "lisi", "wangwu"):
            session.add(Notification(userid=userid, kind="notice", title="通知", body="同一条"))
        for index in range(6):
            session.add(
                Notification(userid="zhangsan", kind="redemption", title=f"兑换 {index}", url="/r")
            )
        await session.commit()
    result = await run_connector_job(jobs, "wecom_send_outbox")
    assert result == {"sent": 7, "calls": 5, "deferred": 2, "failed": 0}
    assert fake.sent_messages[0]["touser"] == "zhangsan|lisi|wangwu"
    async with pg.db.session() as session:
        waiting = (
            await session.exec(
                select(Notification.title).where(col(Notification.sent_at).is_(None))
            )
        ).all()
    assert sorted(waiting) == ["兑换 4", "兑换 5"]
    # Sent messages are never sent again.
    assert (await run_connector_job(jobs, "wecom_send_outbox"))["sent"] == 0
