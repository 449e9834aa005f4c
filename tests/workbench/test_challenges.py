"""Simulation and back-apply of a challenge agree with what live scoring paid."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import func, select

from points.ledger.models import LedgerTransaction
from points.org import service as org
from points.rulesets import service as rulesets
from points.workbench.backapply import plan
from points.workbench.simulation import Window, simulate_stored
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department
from tests.support.rulesets import DEFAULT_RULES
from tests.support.services import Store

NEWCOMER = """
- id: newcomer
  title: 新人挑战
  challenge:
    window: {days: 30, starts: joined}
    goals:
      - {when: approval.submitted, if: on_time, count: 2}
      - {when: doc.shared, count: 2}
      - {when: meeting.started}
  points: 50
"""
JOINED = datetime.now(SHANGHAI).date() - timedelta(days=20)


def day(n: int) -> datetime:
    """Day ``n`` since joining (day 1 is the join date), 10:00 local time."""
    return datetime(JOINED.year, JOINED.month, JOINED.day, 10, tzinfo=SHANGHAI) + timedelta(
        days=n - 1
    )


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    found: Store = request.getfixturevalue(request.param)
    return found


async def test_simulation_and_back_apply_agree_with_live_scoring(store: Store) -> None:
    async with store.db.session() as session:
        draft = await rulesets.save_draft(session, source=DEFAULT_RULES + NEWCOMER, author="hr")
        assert draft.id is not None
        version = await rulesets.activate(session, version_id=draft.id, author="hr")
        sales = await make_department(session, "销售部")
        for userid in ("xiaoli", "xiaowang"):
            await org.upsert_employee(
                session, userid=userid, name=userid, department_id=sales.id, joined_on=JOINED
            )
        await session.commit()
    for userid in ("xiaoli", "xiaowang"):
        events = [
            event(
                f"{userid}:a1",
                "approval.submitted",
                userid,
                day(2),
                template="报销",
                sp_no=f"{userid}1",
                on_time=True,
            ),
            event(f"{userid}:d1", "doc.shared", userid, day(4), doc_id=f"{userid}d1"),
            event(f"{userid}:d2", "doc.shared", userid, day(9), doc_id=f"{userid}d2"),
            event(
                f"{userid}:a2",
                "approval.submitted",
                userid,
                day(12),
                template="请假",
                sp_no=f"{userid}2",
                on_time=True,
            ),
        ]
        if userid == "xiaoli":
            events.append(event("xiaoli:m", "meeting.started", userid, day(6), meeting_id="m"))
        for e in sorted(events, key=lambda e: e.occurred_at):
            await send(store, [e])
    async with store.db.session() as session:
        paid = (
            await session.exec(
                select(func.sum(LedgerTransaction.points)).where(
                    LedgerTransaction.rule_id == "newcomer"
                )
            )
        ).one()
        assert paid == 50
        ruleset = rulesets.compiled(version)
        since = datetime(JOINED.year, JOINED.month, JOINED.day, tzinfo=SHANGHAI)
        everything = Window(since - timedelta(days=1), since + timedelta(days=40))
        report = await simulate_stored(session, ruleset, ruleset, everything, store.settings.zone)
        assert report.by_rule["newcomer"].active == report.by_rule["newcomer"].candidate == 50
        assert report.inflation == 0
        # Back-applying the same version from the middle of the challenge (day 10 on, so the
        # completing approval of day 12 is inside, its earlier goals before) changes nothing.
        middle = Window(since + timedelta(days=9), since + timedelta(days=40))
        assert await plan(session, ruleset, middle, store.settings.zone) == []
        # A version worth 80 instead of 50 gives the difference to the one who completed it.
        richer = rulesets.compiled(
            await rulesets.save_draft(
                session,
                source=DEFAULT_RULES + NEWCOMER.replace("points: 50", "points: 80"),
                author="hr",
            )
        )
        lines = await plan(session, richer, middle, store.settings.zone)
        assert [(line.userid, line.difference) for line in lines] == [("xiaoli", 30)]
