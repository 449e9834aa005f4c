"""Storms of concurrent requests on PostgreSQL: nothing oversold, nothing overdrawn."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import insert
from sqlmodel import col, func, select

from points.db import Database, utcnow
from points.ledger.models import Account, AccountKind
from points.ledger.reconcile import reconcile
from points.org.models import Employee
from points.rewards import policy, redeem
from points.rewards.models import Redemption, Reward
from points.rewards.policy import RedemptionRefused
from tests.conftest import Store
from tests.factories import make_department
from tests.rewards.conftest import give, make_reward

pytestmark = pytest.mark.slow


async def people_with_points(store: Store, count: int, points: int) -> list[int]:
    async with store.db.session() as session:
        department = await make_department(session, "研发部")
        await session.exec(
            insert(Employee).values(  # type: ignore[call-overload]
                [
                    {
                        "userid": f"storm{i:04d}",
                        "name": f"员工{i}",
                        "department_id": department.id,
                        "title": "",
                        "status": "active",
                        "excluded": False,
                        "board_opt_out": False,
                        "created_at": utcnow(),
                    }
                    for i in range(count)
                ]
            )
        )
        ids = list(
            (
                await session.exec(
                    select(Employee.id)
                    .where(col(Employee.userid).startswith("storm"))
                    .order_by(col(Employee.id))
                )
            ).all()
        )
        for employee_id in ids:
            assert employee_id is not None
            await give(session, store.settings, employee_id, points)
        await session.commit()
    return [i for i in ids if i is not None]


async def storm(
    store: Store, calls: list[tuple[int, int, str | None]]
) -> tuple[Counter[str], list[int]]:
    """Every call in its own session, at once, through a pool of 20 connections."""
    db = Database(store.settings, pool_size=20, max_overflow=0, pool_timeout=120)
    made: list[int] = []

    async def attempt(reward_id: int, employee_id: int, key: str | None) -> str:
        try:
            async with db.session() as session:
                result = await redeem.request_redemption(
                    session,
                    store.settings,
                    reward_id=reward_id,
                    employee_id=employee_id,
                    actor=policy.SYSTEM,
                    idempotency_key=key,
                )
                await session.commit()
        except RedemptionRefused as refusal:
            return refusal.code
        assert result.redemption.id is not None
        made.append(result.redemption.id)
        return "held" if result.created else "replayed"

    try:
        outcomes = await asyncio.gather(*(attempt(*call) for call in calls))
    finally:
        await db.dispose()
    return Counter(outcomes), made


async def assert_books_balance(store: Store) -> None:
    async with store.db.session() as session:
        assert (await reconcile(session, store.settings.zone)).clean
        negative = (
            await session.exec(
                select(func.count()).where(
                    col(Account.kind).in_([AccountKind.available, AccountKind.held]),
                    Account.balance < 0,
                )
            )
        ).one()
        assert negative == 0


async def test_a_thousand_people_ten_units_exactly_ten_holds(pg: Store) -> None:
    people = await people_with_points(pg, 1000, 50)
    async with pg.db.session() as session:
        reward = await make_reward(session, name="演唱会门票", price=40, stock=10)
        await session.commit()
    assert reward.id
    outcomes, made = await storm(pg, [(reward.id, person, None) for person in people])
    assert outcomes == Counter({"held": 10, "sold_out": 990})
    async with pg.db.session() as session:
        assert (await session.get(Reward, reward.id)).stock == 0  # type: ignore[union-attr]
        count = (await session.exec(select(func.count()).select_from(Redemption))).one()
        assert count == 10 == len(set(made))
        held = (
            await session.exec(
                select(func.sum(Account.balance)).where(Account.kind == AccountKind.held)
            )
        ).one()
        assert held == 400
    await assert_books_balance(pg)


async def test_one_person_fifty_requests_only_what_they_can_afford(pg: Store) -> None:
    [person] = await people_with_points(pg, 1, 100)
    async with pg.db.session() as session:
        reward = await make_reward(session, name="咖啡券", price=10)
        await session.commit()
    assert reward.id
    outcomes, _made = await storm(pg, [(reward.id, person, None)] * 50)
    assert outcomes == Counter({"held": 10, "insufficient_points": 40})
    await assert_books_balance(pg)


async def test_per_person_limit_holds_under_a_storm(pg: Store) -> None:
    people = await people_with_points(pg, 5, 1000)
    async with pg.db.session() as session:
        reward = await make_reward(
            session, name="午餐券", price=10, limit_count=2, limit_period="week"
        )
        await session.commit()
    assert reward.id
    calls = [(reward.id, person, None) for person in people for _ in range(20)]
    outcomes, _made = await storm(pg, calls)
    assert outcomes == Counter({"held": 10, "limit_reached": 90})
    async with pg.db.session() as session:
        per_person = Counter((await session.exec(select(Redemption.employee_id))).all())
        assert set(per_person.values()) == {2}
    await assert_books_balance(pg)


async def test_the_same_idempotency_key_replayed_at_once_makes_one_redemption(
    pg: Store,
) -> None:
    [person] = await people_with_points(pg, 1, 100)
    async with pg.db.session() as session:
        reward = await make_reward(session, name="图书卡", price=10)
        await session.commit()
    assert reward.id
    outcomes, made = await storm(pg, [(reward.id, person, "double-click-7f3a")] * 50)
    assert outcomes == Counter({"held": 1, "replayed": 49})
    assert len(set(made)) == 1
    async with pg.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Redemption))).one() == 1
    await assert_books_balance(pg)
