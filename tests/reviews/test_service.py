"""Review before award: pending until accepted; rejected or expired never paid."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from points.audit.models import AuditEntry
from points.errors import Conflict, Forbidden
from points.events.schemas import EventIn
from points.ledger.models import LedgerTransaction
from points.notifications.models import Notification
from points.reviews import service
from points.reviews.models import ReviewStatus
from tests.support.events import SHANGHAI, event, send
from tests.support.reviews import (
    as_principal,
    available,
    ledger_lines,
    pending_of,
    reviewed_company,
)
from tests.support.services import Store

NOW = datetime.now(SHANGHAI).replace(microsecond=0)


def case(n: int, when: datetime | None = None, actor: str = "zhangsan") -> EventIn:
    return event(
        f"case:{actor}:{n}",
        "approval.submitted",
        actor,
        when or NOW - timedelta(hours=n),
        template="案例",
        sp_no=f"c{actor}{n}",
        on_time=False,
    )


async def test_an_award_waits_until_hr_accepts_it(store: Store) -> None:
    company = await reviewed_company(store)
    assert await send(store, [case(1)]) == ["created"]
    async with store.db.session() as session:
        assert await available(session, company.zhang) == 0
        [award] = await pending_of(session, company.zhang)
        assert (award.status, award.points, award.reviewer) == (ReviewStatus.pending, 20, "hr")
        assert await ledger_lines(session) == 0
        hr = await as_principal(session, company.hr)
        await service.accept(session, store.settings, hr, award.id or 0)
        await session.commit()
    async with store.db.session() as session:
        assert await available(session, company.zhang) == 20
        line = (
            await session.exec(select(LedgerTransaction).where(LedgerTransaction.key == award.key))
        ).one()
        # Posted through the one writer, naming the event and the rule (and the reviewer).
        assert (line.rule_id, line.event_id, line.author) == (
            "case-study",
            award.event_id,
            "zhaoliu",
        )
        assert line.reason.startswith("最佳实践案例")
        # The same form posted twice changes nothing.
        hr = await as_principal(session, company.hr)
        again = await service.accept(session, store.settings, hr, award.id or 0)
        await session.commit()
        assert again.status == ReviewStatus.accepted
        assert await available(session, company.zhang) == 20
        assert await ledger_lines(session) == 1
        audit = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == "award.review.accepted")
            )
        ).all()
        assert [(a.actor, a.target) for a in audit] == [("zhaoliu", "zhangsan")]
        told = (
            await session.exec(select(Notification).where(Notification.userid == "zhangsan"))
        ).all()
        assert [n.kind for n in told] == ["award.accepted"]
        # Reconciling the books finds nothing to correct (checked after every test too).


async def test_a_rejected_award_never_reaches_the_balance(store: Store) -> None:
    company = await reviewed_company(store)
    await send(store, [case(1)])
    async with store.db.session() as session:
        [award] = await pending_of(session, company.zhang)
        hr = await as_principal(session, company.hr)
        await service.reject(session, hr, award.id or 0, reason="不是原创案例")
        await service.reject(session, hr, award.id or 0, reason="again")  # a double post
        await session.commit()
    async with store.db.session() as session:
        [award] = await pending_of(session, company.zhang)
        assert (award.status, award.decision_reason) == (ReviewStatus.rejected, "不是原创案例")
        hr = await as_principal(session, company.hr)
        with pytest.raises(Conflict):
            await service.accept(session, store.settings, hr, award.id or 0)
        await session.rollback()
        assert await available(session, company.zhang) == 0
        assert await ledger_lines(session) == 0
        mine = await service.for_person(session, company.zhang.id or 0)
        assert mine.pending == [] and [a.status for a in mine.refused] == ["rejected"]


async def test_an_award_nobody_reviews_expires_with_a_reason(store: Store) -> None:
    company = await reviewed_company(store)
    await send(store, [case(1)])
    async with store.db.session() as session:
        assert await service.expire_due(session, NOW + timedelta(days=13)) == 0
        assert await service.expire_due(session, NOW + timedelta(days=15)) == 1
        await session.commit()
    async with store.db.session() as session:
        [award] = await pending_of(session, company.zhang)
        assert award.status == ReviewStatus.expired
        assert award.decision_reason == service.EXPIRED_REASON
        assert await available(session, company.zhang) == 0
        assert await service.expire_due(session, NOW + timedelta(days=30)) == 0  # rerun: none
        kinds = [
            n.kind
            for n in (
                await session.exec(select(Notification).where(Notification.userid == "zhangsan"))
            ).all()
        ]
        assert kinds == ["award.expired"]


async def test_nobody_reviews_their_own_award_and_heads_only_their_own_kind(
    store: Store,
) -> None:
    company = await reviewed_company(store)
    hr_case = case(1, actor="zhaoliu")
    training = event("doc:1", "doc.shared", "zhangsan", NOW, doc_id="cert-1")
    await send(store, [hr_case, training])
    async with store.db.session() as session:
        [own] = await pending_of(session, company.hr)
        hr = await as_principal(session, company.hr)
        with pytest.raises(Forbidden) as refused:
            await service.accept(session, store.settings, hr, own.id or 0)
        assert refused.value.code == "own_award"
        with pytest.raises(Forbidden):
            await service.reject(session, hr, own.id or 0)
        assert own.id not in [a.id for a, _e in await service.queue(session, hr)]
        # A head decides `by: head` awards of the departments they run, nothing else.
        [cert] = await pending_of(session, company.zhang)
        head = await as_principal(session, company.head)
        other = await as_principal(session, company.other_head)
        with pytest.raises(Forbidden):
            await service.accept(session, store.settings, head, own.id or 0)  # HR's kind
        with pytest.raises(Forbidden):
            await service.accept(session, store.settings, other, cert.id or 0)
        assert [a.id for a, _e in await service.queue(session, other)] == []
        assert [a.id for a, _e in await service.queue(session, head)] == [cert.id]
        await service.accept(session, store.settings, head, cert.id or 0)
        await session.commit()
        assert await available(session, company.zhang) == 10
        # Another HR person may decide the first HR person's award.
        admin = await as_principal(session, company.admin)
        await service.accept(session, store.settings, admin, own.id or 0)
        await session.commit()
        assert await available(session, company.hr) == 20


async def test_a_pending_award_holds_its_place_in_caps_and_once_per(store: Store) -> None:
    company = await reviewed_company(store)
    # Cap 30 a week: 20 + 10 (capped) wait; the third gets nothing, even before anyone decides.
    monday = (NOW - timedelta(days=NOW.weekday() + 7)).replace(hour=9, minute=0, second=0)
    await send(store, [case(i, monday + timedelta(hours=i)) for i in range(3)])
    twice = [event(f"doc:{i}", "doc.shared", "zhangsan", monday, doc_id="cert-1") for i in (1, 2)]
    await send(store, twice)
    async with store.db.session() as session:
        waiting = await pending_of(session, company.zhang)
        assert sorted((a.rule_id, a.points) for a in waiting) == [
            ("case-study", 10),
            ("case-study", 20),
            ("training", 10),
        ]
        hr = await as_principal(session, company.hr)
        for award in waiting:
            await service.accept(session, store.settings, hr, award.id or 0)
        await session.commit()
        assert await available(session, company.zhang) == 40  # never above the cap
    # The week's cap is used up by accepted and pending awards alike: nothing more waits.
    await send(store, [case(7, monday + timedelta(hours=7))])
    async with store.db.session() as session:
        assert [a.status for a in await pending_of(session, company.zhang)].count(
            ReviewStatus.pending
        ) == 0


async def test_rejecting_frees_the_place_for_a_later_event(store: Store) -> None:
    company = await reviewed_company(store)
    monday = (NOW - timedelta(days=NOW.weekday() + 7)).replace(hour=9, minute=0, second=0)
    await send(store, [case(i, monday + timedelta(hours=i)) for i in range(2)])
    async with store.db.session() as session:
        first, _second = await pending_of(session, company.zhang)
        hr = await as_principal(session, company.hr)
        await service.reject(session, hr, first.id or 0, reason="重复")
        await session.commit()
    await send(store, [case(5, monday + timedelta(hours=5))])
    async with store.db.session() as session:
        points = [
            a.points for a in await pending_of(session, company.zhang) if a.status == "pending"
        ]
        assert points == [10, 20]  # the freed 20 of the week's 30 went to the later case


async def test_an_event_taken_back_withdraws_its_pending_award(store: Store) -> None:
    company = await reviewed_company(store)
    await send(store, [case(1)])
    revoked = event("revoke:1", "approval.revoked", "zhangsan", NOW, sp_no="czhangsan1")
    await send(store, [revoked])
    async with store.db.session() as session:
        [award] = await pending_of(session, company.zhang)
        assert award.status == ReviewStatus.withdrawn
        assert await available(session, company.zhang) == 0
