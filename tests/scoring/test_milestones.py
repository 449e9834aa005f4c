"""Milestones scored into the ledger: each level once, kept while the count holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from points.events.models import ActivityEvent
from points.events.schemas import EventIn
from points.ledger.models import AccountKind, LedgerTransaction, RuleProgress, TransactionKind
from points.ledger.service import balances
from points.scoring.service import score_events
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.rulesets import use_rules
from tests.support.services import Store

SHARING = """
- id: doc-milestones
  title: 分享文档
  title_en: shared document
  when: doc.shared
  milestone:
    levels:
      - {at: 10, points: 10, badge: 分享达人·铜}
      - {at: 50, points: 30, badge: 分享达人·银}
"""
START = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def shares(first: int, last: int) -> list[EventIn]:
    return [
        event(f"doc:{i}", "doc.shared", "zhangsan", START + timedelta(minutes=i), doc_id=f"d{i}")
        for i in range(first, last + 1)
    ]


async def _person(store: Store) -> int:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        zhang = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
        assert zhang.id is not None
        return zhang.id


async def _awards(store: Store) -> list[tuple[str, str | None, int, str | None]]:
    async with store.db.session() as session:
        rows = await session.exec(select(LedgerTransaction).order_by(col(LedgerTransaction.id)))
        return [(str(t.kind), t.once_value, t.points, t.badge) for t in rows.all()]


async def _total(store: Store) -> object:
    async with store.db.session() as session:
        return (await session.exec(select(RuleProgress.state))).one()


async def _levels_once_each(store: Store) -> None:
    person = await _person(store)
    await use_rules(store, SHARING)
    assert await send(store, shares(1, 30)) == ["created"] * 30
    assert await send(store, shares(31, 55)) == ["created"] * 25
    expected = [("award", "10", 10, "分享达人·铜"), ("award", "50", 30, "分享达人·银")]
    assert await _awards(store) == expected
    # A replay: the same events again are duplicates, and scoring them again writes nothing.
    assert await send(store, shares(1, 55)) == ["duplicate"] * 55
    async with store.db.session() as session:
        ids = list((await session.exec(select(ActivityEvent.id))).all())
        await score_events(session, store.settings, [i for i in ids if i is not None])
        await session.commit()
        assert (await balances(session, person))[AccountKind.available] == 40
        reasons = (await session.exec(select(LedgerTransaction.reason))).all()
    assert await _awards(store) == expected
    assert await _total(store) == {"total": 55}
    assert list(reasons) == ["第 10 次分享文档 · 铜牌", "第 50 次分享文档 · 银牌"]


async def test_the_10th_and_50th_shares_earn_their_levels_once_each(pg: Store, lite: Store) -> None:
    for store in (pg, lite):
        await _levels_once_each(store)


async def _revocations(store: Store) -> None:
    person = await _person(store)
    await use_rules(store, SHARING)
    await send(store, shares(1, 51))
    # The 50th share is deleted: 50 shares remain, silver stays.
    await send(
        store,
        [event("del:50", "doc.deleted", "zhangsan", START + timedelta(hours=5), doc_id="d50")],
    )
    assert await _total(store) == {"total": 50}
    assert [k for k, *_ in await _awards(store)] == ["award", "award"]
    # Another one goes: 49 left, silver is taken back (bronze stays), once.
    for n in (3, 3):
        await send(
            store,
            [
                event(
                    f"del:{n}",
                    "doc.deleted",
                    "zhangsan",
                    START + timedelta(hours=6),
                    doc_id=f"d{n}",
                )
            ],
        )
    assert await _total(store) == {"total": 49}
    awards = await _awards(store)
    assert awards[-1][0] == "reversal" and awards[-1][2] == -30
    assert len(awards) == 3
    async with store.db.session() as session:
        assert (await balances(session, person))[AccountKind.available] == 10
    # Sharing again reaches 50 again: silver is earned again.
    await send(store, shares(60, 60))
    assert (await _awards(store))[-1] == ("award", "50", 30, "分享达人·银")
    assert await _total(store) == {"total": 50}


async def test_a_revoked_share_takes_a_level_back_only_below_it(pg: Store, lite: Store) -> None:
    for store in (pg, lite):
        await _revocations(store)


async def test_milestone_awards_reverse_with_the_same_kind(pg: Store) -> None:
    await _person(pg)
    await use_rules(pg, SHARING)
    await send(pg, shares(1, 10))
    async with pg.db.session() as session:
        kinds = (await session.exec(select(LedgerTransaction.kind))).all()
    assert kinds == [TransactionKind.award]
