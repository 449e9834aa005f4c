"""WeCom's daily customer-contact figures (get_user_behavior_data, as documented)
become one scored event per person and day with customer activity, exactly once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import col, select

from points.devtools.fake_wecom import FakeWeCom
from points.events.models import ActivityEvent
from points.jobs import InlineQueue
from points.ledger.models import LedgerTransaction
from points.wecom.jobs import run_connector_job
from points.wecom.models import BehaviorDay, ConnectorState
from tests.support.factories import make_department, make_employee
from tests.support.services import Store
from tests.support.wecom import Clock

BEHAVIOR = "wecom_pull_behavior"
PATH = "/cgi-bin/externalcontact/get_user_behavior_data"


def _day(stat_time: int, chats: int, contacts: int = 0) -> dict[str, object]:
    return {
        "stat_time": stat_time,
        "chat_cnt": chats,
        "message_cnt": chats * 4,
        "reply_percentage": 75.5,
        "avg_reply_time": 12,
        "negative_feedback_cnt": 0,
        "new_apply_cnt": 0,
        "new_contact_cnt": contacts,
    }


async def test_days_with_customer_activity_are_scored_once(
    pg: Store, fake: FakeWeCom, timed_jobs: InlineQueue, clock: Clock
) -> None:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        for userid in ("wangwu", "zhaoliu", "lisi"):
            await make_employee(session, sales, userid=userid, name=userid)
        await session.commit()
    zone = pg.settings.zone
    yesterday = clock.now.astimezone(zone).date() - timedelta(days=1)
    stat = int(datetime.combine(yesterday, time(0), zone).timestamp())
    fake.behavior = {
        "wangwu": [_day(stat, 5, contacts=2)],
        "zhaoliu": [_day(stat, 0)],  # a quiet day: stored, no event
    }
    fake.fail_next(PATH, 40058, "invalid userid")  # lisi (first in order): skipped, not stopped
    result = await run_connector_job(timed_jobs, BEHAVIOR)
    assert result["rows"] == 2 and result["created"] == 1
    assert result["failures"] == {"lisi": "errcode 40058"}
    async with pg.db.session() as session:
        events = (await session.exec(select(ActivityEvent))).all()
        points = (
            await session.exec(select(LedgerTransaction.rule_id, LedgerTransaction.points))
        ).all()
        rows = (await session.exec(select(BehaviorDay).order_by(col(BehaviorDay.userid)))).all()
    assert [(e.external_id, e.type, e.actor) for e in events] == [
        (f"customer_day:wangwu:{yesterday.isoformat()}", "customer.contact_day", "wangwu")
    ]
    assert events[0].attributes == {
        "chat_cnt": 5,
        "message_cnt": 20,
        "new_apply_cnt": 0,
        "new_contact_cnt": 2,
        "negative_feedback_cnt": 0,
        "reply_percentage": 75.5,
        "avg_reply_time": 12,
    }
    assert events[0].occurred_at.astimezone(zone).hour == 12
    assert [(r.userid, r.chat_cnt) for r in rows] == [("wangwu", 5), ("zhaoliu", 0)]
    assert points == [("customer-conversations", 2)]

    # The same day pulled again (e.g. the cursor was reset): a duplicate, no new points.
    async with pg.db.session() as session:
        state = await session.get(ConnectorState, "behavior")
        assert state is not None
        state.window_end = None
        session.add(state)
        await session.commit()
    again = await run_connector_job(timed_jobs, BEHAVIOR)
    assert again["created"] == 0 and again["duplicate"] == 1
    async with pg.db.session() as session:
        assert len((await session.exec(select(LedgerTransaction))).all()) == 1
