"""A request's two ways of writing: one statement on PostgreSQL, the session on SQLite.

Both must leave the same rows — redemption, timeline, audit, outbox, the ledger hold
and the stock — and the ledger's one-statement posting must keep the books exactly
as the session path keeps them.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import pytest
from sqlmodel import col, func, select

from points.audit.models import AuditEntry
from points.auth.service import principal_for_employee
from points.db import utcnow
from points.i18n import use_locale
from points.ledger import writer
from points.ledger.models import (
    Account,
    AccountKind,
    LedgerEntry,
    LedgerTransaction,
    PeriodScore,
    TransactionKind,
)
from points.ledger.reconcile import reconcile
from points.ledger.service import Posting, balances, earning_legs, moving_legs
from points.notifications.models import Notification
from points.org.models import Employee
from points.rewards import policy, redeem, vouchers
from points.rewards.models import Redemption, RedemptionStep, Reward
from points.rewards.policy import RedemptionRefused
from tests.support.rewards import Shop, assert_books_balance, make_reward, people_with_points, storm
from tests.support.services import Store


async def request(
    store: Store,
    reward_id: int,
    employee: Employee,
    key: str | None = None,
    by: Employee | None = None,
    **kw: Any,
) -> redeem.RequestResult:
    """``employee`` asks (or ``by`` asks for them, as HR may through the API)."""
    assert employee.id is not None
    async with store.db.session() as session:
        actor = policy.Actor(
            await principal_for_employee(session, by or employee),
            ip="10.1.2.3",
            user_agent="pytest",
        )
        result = await redeem.request_redemption(
            session,
            store.settings,
            reward_id=reward_id,
            employee_id=employee.id,
            actor=actor,
            idempotency_key=key,
            **kw,
        )
        await session.commit()
    return result


async def refusal(store: Store, reward_id: int, employee: Employee) -> str:
    with use_locale("zh_CN"), pytest.raises(RedemptionRefused) as caught:
        await request(store, reward_id, employee)
    return caught.value.message


def columns(row: Any, *leave_out: str) -> dict[str, Any]:
    """A row's stored values (as plain strings, whether loaded or built in Python)."""
    values = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    return {k: str(v) if isinstance(v, str) else v for k, v in values.items() if k not in leave_out}


async def written(store: Store, redemption_id: int) -> dict[str, Any]:
    """Everything a request wrote, without the ids that differ from one request to the next."""
    async with store.db.session() as session:
        redemption = await session.get(Redemption, redemption_id)
        assert redemption is not None
        steps = (
            await session.exec(
                select(RedemptionStep).where(RedemptionStep.redemption_id == redemption_id)
            )
        ).all()
        audit = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.target == f"redemption:{redemption_id}")
            )
        ).all()
        notices = (
            await session.exec(
                select(Notification).where(
                    Notification.url == f"/rewards/mine/{redemption_id}",
                )
            )
        ).all()
        holds_ = (
            await session.exec(
                select(LedgerTransaction).where(LedgerTransaction.redemption_id == redemption_id)
            )
        ).all()
        entries = (
            await session.exec(
                select(Account.kind, LedgerEntry.amount)
                .join(Account, col(Account.id) == col(LedgerEntry.account_id))
                .where(col(LedgerEntry.transaction_id).in_([t.id for t in holds_]))
                .order_by(col(LedgerEntry.amount))
            )
        ).all()
        money = await balances(session, redemption.employee_id)
    return {
        "redemption": columns(redemption, "id", "employee_id", "idempotency_key"),
        "steps": [columns(s, "id", "redemption_id") for s in steps],
        "audit": [
            (a.actor, a.action, {k: v for k, v in a.details.items() if k != "employee_id"})
            for a in audit
        ]
        + [(a.ip, a.user_agent, a.details["employee_id"] == redemption.employee_id) for a in audit],
        "notices": [(n.kind, n.title, n.body, n.sent_at, n.attempts) for n in notices],
        "ledger": [
            (
                t.key == f"hold:{redemption_id}",
                t.kind,
                t.points,
                t.effective_at,
                t.department_id,
                t.author,
                t.reason,
                t.reason_en,
            )
            for t in holds_
        ],
        "entries": [(AccountKind(k), a) for k, a in entries],
        "money": money,
    }


async def test_one_statement_writes_what_the_session_writes(
    pg: Store, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pg.db.session() as session:
        reward = await make_reward(session, stock=5, expire_after_days=7)
        await session.commit()
    assert reward.id
    now = utcnow()
    fast = await request(pg, reward.id, shop.employee, key="k-1", by=shop.hr, now=now)
    monkeypatch.setattr(
        redeem,
        "_write_request",
        functools.partial(redeem._write_request, one_statement=False),
    )
    slow = await request(pg, reward.id, shop.colleague, key="k-1", by=shop.hr, now=now)
    assert fast.created and slow.created
    assert fast.redemption.id and slow.redemption.id
    one, other = await written(pg, fast.redemption.id), await written(pg, slow.redemption.id)
    assert one == other
    assert one["money"] == {AccountKind.available: 70, AccountKind.held: 30}
    assert one["entries"] == [(AccountKind.available, -30), (AccountKind.held, 30)]
    assert [s["status"] for s in one["steps"]] == ["awaiting_fulfilment"]
    assert one["notices"][0][0] == "redemption.awaiting_fulfilment"
    assert columns(fast.redemption, "id", "employee_id") == columns(
        slow.redemption, "id", "employee_id"
    )
    async with pg.db.session() as session:
        assert (await session.get(Reward, reward.id)).stock == 3  # type: ignore[union-attr]
        assert (await reconcile(session, pg.settings.zone)).clean
    # The returned redemption is the stored one, and a replay finds it.
    again = await request(pg, reward.id, shop.employee, key="k-1", now=now)
    assert not again.created and again.redemption.id == fast.redemption.id


async def test_the_embedded_database_takes_the_session_path(lite: Store, lite_shop: Shop) -> None:
    shop = lite_shop
    async with lite.db.session() as session:
        coffee = await make_reward(session, price=30, stock=1)
        dear = await make_reward(session, name="耳机", price=90)
        lunch = await make_reward(
            session, name="午餐券", price=10, limit_count=1, limit_period="day"
        )
        await session.commit()
    assert coffee.id and dear.id and lunch.id
    first = await request(lite, coffee.id, shop.employee, key="once")
    assert first.created and first.redemption.id
    replay = await request(lite, coffee.id, shop.employee, key="once")
    assert not replay.created and replay.redemption.id == first.redemption.id
    assert await refusal(lite, coffee.id, shop.colleague) == "已兑完"
    assert await refusal(lite, dear.id, shop.employee) == "余额不足，还差 20 分"
    await request(lite, lunch.id, shop.employee)
    assert await refusal(lite, lunch.id, shop.employee) == "今天已兑换 1 次"
    view = await written(lite, first.redemption.id)
    assert view["money"] == {AccountKind.available: 60, AccountKind.held: 40}
    assert view["entries"] == [(AccountKind.available, -30), (AccountKind.held, 30)]
    assert [a[1] for a in view["audit"][:1]] == ["redemption.request"]
    assert len(view["notices"]) == 1
    async with lite.db.session() as session:
        assert (await session.get(Reward, coffee.id)).stock == 0  # type: ignore[union-attr]
        assert (await reconcile(session, lite.settings.zone)).clean


async def test_a_person_without_accounts_is_locked_and_refused_cleanly(
    pg: Store, shop: Shop
) -> None:
    """The head has points; HR (赵六) never had any: no account exists until asked."""
    async with pg.db.session() as session:
        reward = await make_reward(session, price=10)
        await session.commit()
    assert reward.id
    assert await refusal(pg, reward.id, shop.hr) == "余额不足，还差 10 分"
    async with pg.db.session() as session:
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_a_hold_in_one_statement_keeps_the_books(pg: Store, shop: Shop) -> None:
    person = shop.employee.id
    assert person is not None
    hold = Posting(
        key="hold:test-1",
        kind=TransactionKind.hold,
        employee_id=person,
        points=25,
        effective_at=utcnow(),
        legs=moving_legs(person, AccountKind.available, AccountKind.held, 25, person),
        reason="测试" * 300,  # cut to the column, as post cuts it
    )
    async with pg.db.session() as session:
        [first] = await writer.post(session, [hold], pg.settings.zone)
        again = await writer.post(session, [hold], pg.settings.zone)
        await session.commit()
    assert again == []  # the same key twice: written once
    async with pg.db.session() as session:
        assert await balances(session, person) == {
            AccountKind.available: 75,
            AccountKind.held: 25,
        }
        entries = (
            await session.exec(
                select(func.sum(LedgerEntry.amount)).where(LedgerEntry.transaction_id == first)
            )
        ).one()
        assert entries == 0
        stored = await session.get(LedgerTransaction, first)
        assert stored is not None and len(stored.reason) == 500
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_earnings_in_one_statement_add_period_scores(pg: Store, shop: Shop) -> None:
    """Points earned add to period scores, in the same statement as the transaction."""
    person = shop.employee.id
    assert person is not None
    grant = Posting(
        key="grant:test-1",
        kind=TransactionKind.adjustment,
        employee_id=person,
        points=5,
        effective_at=utcnow(),
        legs=earning_legs(person, 5),
    )
    async with pg.db.session() as session:
        assert len(await writer.post(session, [grant], pg.settings.zone)) == 1
        await session.commit()
    async with pg.db.session() as session:
        scores = (
            await session.exec(
                select(PeriodScore.points).where(
                    PeriodScore.employee_id == person, PeriodScore.period == "all"
                )
            )
        ).one()
        assert scores == 105
        assert (await reconcile(session, pg.settings.zone)).clean


@pytest.mark.slow
@pytest.mark.parametrize("kind", [{"fulfilment": "voucher"}, {"approver": "head"}])
async def test_rewards_with_more_to_do_take_their_stock_last_and_never_oversell(
    pg: Store, kind: dict[str, str]
) -> None:
    """A voucher code to reserve or heads to ask: the stock is taken on its own, after."""
    people = await people_with_points(pg, 200, 50)
    async with pg.db.session() as session:
        reward = await make_reward(session, name="限量", price=40, stock=5, **kind)
        await session.commit()
    assert reward.id
    if kind.get("fulfilment") == "voucher":
        async with pg.db.session() as session:
            codes = "\n".join(f"CODE-{i}" for i in range(8))
            await vouchers.upload_codes(session, reward.id, codes, "codes.csv", policy.SYSTEM)
            await session.commit()
    outcomes, _made = await storm(pg, [(reward.id, person, None) for person in people])
    assert outcomes == Counter({"held": 5, "sold_out": 195})
    async with pg.db.session() as session:
        assert (await session.get(Reward, reward.id)).stock == 0  # type: ignore[union-attr]
        assert (await session.exec(select(func.count()).select_from(Redemption))).one() == 5
    await assert_books_balance(pg)
