"""Meetings from WeCom's meeting API (get_user_meetingid + get_info, as documented)
become scored events exactly once: paging, re-pulls, errors and rate limits."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent
from points.jobs import InlineQueue
from points.ledger.models import LedgerTransaction
from points.org.models import Employee
from points.wecom.jobs import run_connector_job
from points.wecom.models import ConnectorState, QuarantinedRecord
from points.wecom.samples import meeting_info
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import Clock

DAY = 86400
LIST = "/cgi-bin/meeting/get_user_meetingid"
INFO = "/cgi-bin/meeting/get_info"
MEETINGS = "wecom_pull_meetings"


async def _staff(store: Store) -> None:
    async with store.db.session() as session:
        team = await make_department(session, "行政部")
        for userid in ("zhangsan", "lisi", "wangwu", "sunqi"):
            await make_employee(session, team, userid=userid, name=userid)
        await session.commit()


def _meetings(fake: FakeWeCom, clock: Clock) -> None:
    """An ended weekly meeting, one not started, one cancelled, one nobody joined, one
    without an organiser; two per page, so lisi's four meetings take two pages."""
    start = int(clock.now.timestamp()) - DAY
    fake.page_size = 2
    fake.meetings = {
        "m-weekly": meeting_info(
            "zhangsan",
            start,
            members=[
                ("zhangsan", start - 30, 1800),
                ("lisi", start + 60, 1500),
                ("wangwu", start + 900, 600),
                ("sunqi", 0, 0),
            ],
            guests=[("woGUEST1", start + 120, 1200)],
        ),
        "m-future": meeting_info("lisi", start + 3 * DAY, status=1, members=[("zhangsan", 0, 0)]),
        "m-cancelled": meeting_info("wangwu", start, status=4, members=[("lisi", 0, 0)]),
        "m-empty": meeting_info("lisi", start + 3600, members=[("wangwu", 0, 0)]),
        "m-broken": meeting_info("", start + 7200, members=[("lisi", start + 7200, 60)]),
    }


async def _awards(store: Store) -> list[tuple[str, str | None, int]]:
    async with store.db.session() as session:
        rows = await session.exec(
            select(Employee.userid, LedgerTransaction.rule_id, LedgerTransaction.points)
            .join(Employee, col(Employee.id) == col(LedgerTransaction.employee_id))
            .order_by(col(Employee.userid), col(LedgerTransaction.rule_id))
        )
        return [(u, r, p) for u, r, p in rows.all()]


async def test_ended_meetings_become_scored_events_once(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    _meetings(fake, clock)
    first = await run_connector_job(timed_jobs, MEETINGS)
    assert first["created"] == 3 and first["skipped"] == 1
    async with pg.db.session() as session:
        events = (
            await session.exec(select(ActivityEvent).order_by(ActivityEvent.external_id))
        ).all()
        broken = (await session.exec(select(QuarantinedRecord))).all()
    assert [(e.external_id, e.actor) for e in events] == [
        ("meeting:m-weekly:attended:lisi", "lisi"),
        ("meeting:m-weekly:attended:wangwu", "wangwu"),
        ("meeting:m-weekly:started", "zhangsan"),
    ]
    started = events[2].attributes
    assert started == {
        "meeting_id": "m-weekly",
        "topic": "周例会",
        "attendees": 4,  # three members who joined and one guest
        "duration_minutes": 30.0,
        "scheduled": True,
        "external": True,
    }
    assert events[0].attributes["on_time"] is True and events[1].attributes["on_time"] is False
    assert events[0].attributes["duration_minutes"] == 25.0
    assert [(b.connector, b.reason) for b in broken] == [("meetings", "missing creator_userid")]
    assert await _awards(pg) == [
        ("lisi", "meeting-attended", 1),
        ("wangwu", "meeting-attended", 1),
        ("zhangsan", "first-meeting", 20),
        ("zhangsan", "meeting-started", 2),
    ]
    # Paging: lisi's meetings came in two pages, the second asked with WeCom's cursor.
    cursors = [body["cursor"] for _m, path, body in fake.requests if path == LIST]
    assert "2" in cursors
    # Each meeting's detail was fetched once, however many members list it.
    infos = [body["meetingid"] for _m, path, body in fake.requests if path == INFO]
    assert sorted(infos) == sorted(set(infos))

    # The next night looks two days back again: the same meetings, nothing new.
    clock.advance(timedelta(days=1))
    again = await run_connector_job(timed_jobs, MEETINGS)
    assert again["created"] == 0 and again["duplicate"] == 3
    assert len(await _awards(pg)) == 4


async def test_a_meeting_that_ends_after_the_pull_is_picked_up_the_next_night(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    start = int(clock.now.timestamp()) - 7200
    running = meeting_info("zhangsan", start, status=2, members=[("lisi", start, 3600)])
    fake.meetings = {"m-long": running}
    assert (await run_connector_job(timed_jobs, MEETINGS))["created"] == 0
    fake.meetings["m-long"] = {**running, "status": 3}
    clock.advance(timedelta(days=1))
    assert (await run_connector_job(timed_jobs, MEETINGS))["created"] == 2


async def test_wecom_errors_stop_or_skip_and_nothing_is_lost(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    await _staff(pg)
    _meetings(fake, clock)
    # Not allowed to call the meeting API (会议 → API): stop, say so, claim nothing.
    fake.fail_next(LIST, 48002, "api forbidden")
    stopped = await run_connector_job(timed_jobs, MEETINGS)
    assert stopped["status"] == "misconfigured" and "48002" in stopped["error"]
    async with pg.db.session() as session:
        state = await session.get(ConnectorState, "meetings")
    assert state is not None and state.window_end is None
    # A rate limit in the middle: paused, then resumed where it stopped.
    fake.fail_after(INFO, 1, 45009, times=10)
    throttled = await run_connector_job(timed_jobs, MEETINGS)
    assert throttled["throttled"] is True
    fake.clear_injected()
    clock.advance(timedelta(hours=2))
    done = await run_connector_job(timed_jobs, MEETINGS)
    assert "created" in done
    async with pg.db.session() as session:
        ids = (await session.exec(select(ActivityEvent.external_id))).all()
    assert sorted(ids) == [
        "meeting:m-weekly:attended:lisi",
        "meeting:m-weekly:attended:wangwu",
        "meeting:m-weekly:started",
    ]
    assert len(await _awards(pg)) == 4
