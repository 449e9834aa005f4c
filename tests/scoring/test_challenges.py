"""Challenges scored live: awarded once, kept per person, taken back only below a target."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from points.ledger.models import AccountKind, LedgerTransaction, RuleProgress, TransactionKind
from points.ledger.service import balances
from points.org import service as org
from points.rulesets import service as rulesets
from points.scoring.service import score_events
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department
from tests.support.rulesets import DEFAULT_RULES
from tests.support.services import Store

NEWCOMER = """
- id: newcomer
  title: 新人挑战
  title_en: Newcomer challenge
  challenge:
    window: {days: 30, starts: joined}
    goals:
      - {title: 按时提交审批, when: approval.submitted, if: on_time, count: 3}
      - {title: 分享文档, when: doc.shared, count: 2}
      - {title: 发起会议, when: meeting.started, count: 1}
  points: 50
  badge: 新星
"""
JOINED = date(2026, 10, 5)


def day(n: int) -> datetime:
    """Day ``n`` since joining (day 1 is the join date), 10:00 Beijing time."""
    return datetime(2026, 10, 5, 10, tzinfo=SHANGHAI) + timedelta(days=n - 1)


@pytest.fixture(params=["pg", "lite"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each scoring test runs on PostgreSQL and on SQLite."""
    found: Store = request.getfixturevalue(request.param)
    return found


async def _start(store: Store, *people: str) -> dict[str, int]:
    async with store.db.session() as session:
        draft = await rulesets.save_draft(session, source=DEFAULT_RULES + NEWCOMER, author="hr")
        assert draft.id is not None
        await rulesets.activate(session, version_id=draft.id, author="hr")
        sales = await make_department(session, "销售部")
        ids = {}
        for userid in people:
            person = await org.upsert_employee(
                session, userid=userid, name=userid, department_id=sales.id, joined_on=JOINED
            )
            assert person.id is not None
            ids[userid] = person.id
        await session.commit()
    return ids


def _first_month(userid: str, meeting: bool = True) -> list:  # type: ignore[type-arg]
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
        event(f"{userid}:d1", "doc.shared", userid, day(3), doc_id=f"{userid}d1"),
        event(
            f"{userid}:a2",
            "approval.submitted",
            userid,
            day(5),
            template="请假",
            sp_no=f"{userid}2",
            on_time=True,
        ),
        event(f"{userid}:d2", "doc.shared", userid, day(9), doc_id=f"{userid}d2"),
        event(
            f"{userid}:a3",
            "approval.submitted",
            userid,
            day(12),
            template="出差",
            sp_no=f"{userid}3",
            on_time=True,
        ),
        event(
            f"{userid}:a4",
            "approval.submitted",
            userid,
            day(16),
            template="报销",
            sp_no=f"{userid}4",
            on_time=True,
        ),
    ]
    if meeting:
        events.append(
            event(
                f"{userid}:m1",
                "meeting.started",
                userid,
                day(7),
                meeting_id=f"{userid}m",
                attendees=3,
            )
        )
    return sorted(events, key=lambda e: e.occurred_at)


async def _challenge_awards(store: Store, employee_id: int) -> list[LedgerTransaction]:
    async with store.db.session() as session:
        rows = await session.exec(
            select(LedgerTransaction)
            .where(
                LedgerTransaction.employee_id == employee_id,
                LedgerTransaction.rule_id == "newcomer",
            )
            .order_by(col(LedgerTransaction.id))
        )
        return list(rows.all())


async def test_met_on_day_12_awards_once_and_a_missed_goal_awards_nothing(store: Store) -> None:
    ids = await _start(store, "xiaoli", "xiaowang")
    # One batch per event, as WeCom's callbacks arrive: progress must carry across batches.
    for e in _first_month("xiaoli") + _first_month("xiaowang", meeting=False):
        await send(store, [e])
    awards = await _challenge_awards(store, ids["xiaoli"])
    assert [(a.kind, a.points, a.badge, a.effective_at) for a in awards] == [
        (TransactionKind.award, 50, "新星", day(12))
    ]
    assert awards[0].reason == "完成挑战：新人挑战 · 第 12 天完成"
    assert awards[0].reason_en == "Challenge completed: Newcomer challenge · on day 12"
    assert await _challenge_awards(store, ids["xiaowang"]) == []
    async with store.db.session() as session:
        kept = {
            r.employee_id: r.state
            for r in (await session.exec(select(RuleProgress))).all()
            if r.rule_id == "newcomer"
        }
        # Replaying the same events (again through intake, and scoring them again) adds nothing.
        assert await send(store, _first_month("xiaoli")) == ["duplicate"] * 7
        everything = (await session.exec(select(LedgerTransaction.event_id))).all()
        await score_events(session, store.settings, [i for i in everything if i])
        await session.commit()
    assert kept[ids["xiaoli"]]["counts"] == [4, 2, 1]
    assert kept[ids["xiaowang"]]["counts"] == [4, 2, 0]
    assert len(await _challenge_awards(store, ids["xiaoli"])) == 1


async def test_a_revoked_approval_takes_the_award_back_only_below_the_target(
    store: Store,
) -> None:
    ids = await _start(store, "xiaoli")
    await send(store, _first_month("xiaoli"))
    async with store.db.session() as session:
        before = (await balances(session, ids["xiaoli"]))[AccountKind.available]

    def revoked(n: int) -> list:  # type: ignore[type-arg]
        return [event(f"xiaoli:r{n}", "approval.revoked", "xiaoli", day(20), sp_no=f"xiaoli{n}")]

    # Four on-time approvals against a target of three: one revoked leaves the award.
    await send(store, revoked(1))
    awards = await _challenge_awards(store, ids["xiaoli"])
    assert [a.kind for a in awards] == [TransactionKind.award]
    # The approval that completed the challenge revoked too: now two of three, so it goes.
    await send(store, revoked(3))
    awards = await _challenge_awards(store, ids["xiaoli"])
    assert [(a.kind, a.points) for a in awards] == [
        (TransactionKind.award, 50),
        (TransactionKind.reversal, -50),
    ]
    assert awards[1].reason == "撤回：approval.revoked · 完成挑战：新人挑战 · 第 12 天完成"
    async with store.db.session() as session:
        after = (await balances(session, ids["xiaoli"]))[AccountKind.available]
        state = (
            (await session.exec(select(RuleProgress).where(RuleProgress.rule_id == "newcomer")))
            .one()
            .state
        )
    # The two approvals' own 5 points and the 50 went back.
    assert before - after == 5 + 5 + 50
    assert state["counts"] == [2, 2, 1]
