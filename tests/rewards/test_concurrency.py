"""Storms of concurrent requests on PostgreSQL: nothing oversold, nothing overdrawn."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import func, select

from points.ledger.models import Account, AccountKind
from points.rewards.models import Redemption, Reward
from tests.support.rewards import assert_books_balance, make_reward, people_with_points, storm
from tests.support.services import Store

pytestmark = pytest.mark.slow


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
