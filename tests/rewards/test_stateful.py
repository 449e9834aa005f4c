"""A Hypothesis state machine over requests, approvals, fulfilments, declines,
cancellations and expiries: the books always balance, stock never goes negative,
and no voucher code is ever given out twice."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import col, func, select, update

from points.auth.service import principal_for_employee
from points.db import Database, utcnow
from points.errors import DomainError
from points.ledger.models import EARNING_KINDS, Account, AccountKind, LedgerTransaction
from points.ledger.reconcile import reconcile
from points.org.models import Role
from points.rewards import policy, redeem, vouchers, workflow
from points.rewards.models import PENDING, Redemption, RedemptionStatus, Reward, VoucherCode
from points.settings import Settings
from tests.support.factories import make_department, make_employee
from tests.support.rewards import give, make_reward
from tests.support.services import make_settings, truncate_all

T = TypeVar("T")
pytestmark = pytest.mark.slow


class RedemptionMachine(RuleBasedStateMachine):
    settings_: Settings
    url: str

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.settings_ = make_settings(self.url)
        self.db = Database(self.settings_)
        self.people: list[int] = []
        self.actors: dict[str, policy.Actor] = {}
        self.initial_stock: dict[int, int] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()

    @initialize()
    def company(self) -> None:
        self.run(self._company())

    async def _company(self) -> None:
        await truncate_all(self.db)
        async with self.db.session() as session:
            team = await make_department(session, "市场部")
            head = await make_employee(session, team, userid="head", role=Role.head)
            hr = await make_employee(session, team, userid="hr", role=Role.hr)
            for i, points in enumerate((100, 60, 25)):
                person = await make_employee(session, team, userid=f"p{i}")
                assert person.id is not None
                await give(session, self.settings_, person.id, points)
                self.people.append(person.id)
                self.actors[f"p{i}"] = policy.Actor(await principal_for_employee(session, person))
            self.actors["head"] = policy.Actor(await principal_for_employee(session, head))
            self.actors["hr"] = policy.Actor(await principal_for_employee(session, hr))
            rewards = [
                await make_reward(session, name="午餐券", price=20, stock=3, approver="hr"),
                await make_reward(session, name="咖啡券", price=10, fulfilment="voucher"),
                await make_reward(
                    session, name="图书卡", price=15, fulfilment="voucher", approver="hr", stock=5
                ),
                await make_reward(
                    session,
                    name="带薪休假半天",
                    price=40,
                    fulfilment="leave",
                    leave_hours=4,
                    limit_count=1,
                    limit_period="week",
                ),
            ]
            await vouchers.upload_codes(
                session, rewards[1].id or 0, "C1\nC2\nC3\n", "a.csv", policy.SYSTEM
            )
            await vouchers.upload_codes(
                session, rewards[2].id or 0, "B1\nB2\n", "b.csv", policy.SYSTEM
            )
            self.rewards = [r.id or 0 for r in rewards]
            self.initial_stock = {r.id or 0: r.stock for r in rewards if r.stock is not None}
            await session.commit()

    async def _pending(self, status: RedemptionStatus | None = None) -> list[Redemption]:
        async with self.db.session() as session:
            query = select(Redemption).where(
                col(Redemption.status).in_([status] if status else list(PENDING))
            )
            return list((await session.exec(query.order_by(col(Redemption.id)))).all())

    async def _act(self, fn: Any, *args: Any) -> None:
        try:
            async with self.db.session() as session:
                await fn(session, self.settings_, *args)
                await session.commit()
        except policy.RedemptionRefused:
            pass

    @rule(who=st.integers(0, 2), which=st.integers(0, 3), key=st.sampled_from([None, "k1", "k2"]))
    def request(self, who: int, which: int, key: str | None) -> None:
        async def go(session: Any, settings: Settings) -> None:
            await redeem.request_redemption(
                session,
                settings,
                reward_id=self.rewards[which],
                employee_id=self.people[who],
                actor=self.actors[f"p{who}"],
                idempotency_key=key,
                leave_date=date.today() + timedelta(days=7),  # paid leave needs its day
            )

        try:
            self.run(self._act(go))
        except DomainError as error:  # a key reused for another reward
            assert error.code == "idempotency_key_reused"

    @rule(pick=st.integers(0, 50))
    def approve(self, pick: int) -> None:
        waiting = self.run(self._pending(RedemptionStatus.awaiting_approval))
        if not waiting:
            return
        redemption = waiting[pick % len(waiting)]
        reward_id = redemption.reward_id
        actor = self.actors["head" if reward_id == self.rewards[3] else "hr"]
        self.run(self._act(workflow.approve, redemption.id, actor))

    @rule(pick=st.integers(0, 50))
    def fulfil(self, pick: int) -> None:
        waiting = self.run(self._pending(RedemptionStatus.awaiting_fulfilment))
        if waiting:
            redemption = waiting[pick % len(waiting)]
            self.run(self._act(workflow.fulfil, redemption.id, self.actors["hr"]))

    @rule(pick=st.integers(0, 50))
    def decline(self, pick: int) -> None:
        waiting = self.run(self._pending())
        if waiting:
            redemption = waiting[pick % len(waiting)]
            self.run(self._act(workflow.decline, redemption.id, "不符合条件", self.actors["hr"]))

    @rule(pick=st.integers(0, 50))
    def cancel(self, pick: int) -> None:
        waiting = self.run(self._pending())
        if waiting:
            redemption = waiting[pick % len(waiting)]
            owner = self.people.index(redemption.employee_id)
            self.run(self._act(workflow.cancel, redemption.id, self.actors[f"p{owner}"]))

    @rule(pick=st.integers(0, 50))
    def expire(self, pick: int) -> None:
        waiting = self.run(self._pending())
        if not waiting:
            return
        redemption = waiting[pick % len(waiting)]

        async def go() -> None:
            async with self.db.session() as session:
                await session.exec(
                    update(Redemption)
                    .where(col(Redemption.id) == redemption.id)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
                assert await workflow.expire_due(session, self.settings_) == 1
                await session.commit()

        self.run(go())

    @rule(who=st.integers(0, 2), points=st.integers(1, 50))
    def earn(self, who: int, points: int) -> None:
        async def go() -> None:
            async with self.db.session() as session:
                await give(session, self.settings_, self.people[who], points)
                await session.commit()

        self.run(go())

    @invariant()
    def books_balance(self) -> None:
        if not self.people:
            return
        self.run(self._check())

    async def _check(self) -> None:
        async with self.db.session() as session:
            for person in self.people:
                money = {
                    kind: balance
                    for kind, balance in (
                        await session.exec(
                            select(Account.kind, Account.balance).where(
                                Account.employee_id == person
                            )
                        )
                    ).all()
                }
                earned = (
                    await session.exec(
                        select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                            LedgerTransaction.employee_id == person,
                            col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                        )
                    )
                ).one()
                spent, held = (
                    await session.exec(
                        select(
                            func.coalesce(
                                func.sum(Redemption.price).filter(
                                    Redemption.status == RedemptionStatus.fulfilled
                                ),
                                0,
                            ),
                            func.coalesce(
                                func.sum(Redemption.price).filter(
                                    col(Redemption.status).in_(list(PENDING))
                                ),
                                0,
                            ),
                        ).where(Redemption.employee_id == person)
                    )
                ).one()
                available = money.get(AccountKind.available, 0)
                assert money.get(AccountKind.held, 0) == held
                assert available + held == earned - spent
                assert available >= 0
            for reward_id, initial in self.initial_stock.items():
                reward = (
                    await session.exec(
                        select(Reward)
                        .where(Reward.id == reward_id)
                        .execution_options(populate_existing=True)
                    )
                ).one()
                assert reward.stock is not None and reward.stock >= 0
                taken = (
                    await session.exec(
                        select(func.count()).where(
                            Redemption.reward_id == reward_id,
                            col(Redemption.status).in_([*PENDING, RedemptionStatus.fulfilled]),
                        )
                    )
                ).one()
                assert reward.stock + taken == initial
            given = (
                await session.exec(
                    select(VoucherCode.code, VoucherCode.redemption_id).where(
                        col(VoucherCode.given_at).is_not(None)
                    )
                )
            ).all()
            owners = [owner for _code, owner in given]
            assert len(owners) == len(set(owners))
            fulfilled_vouchers = (
                await session.exec(
                    select(func.count()).where(
                        col(Redemption.reward_id).in_(self.rewards[1:3]),
                        Redemption.status == RedemptionStatus.fulfilled,
                    )
                )
            ).one()
            assert fulfilled_vouchers == len(given)
            assert (await reconcile(session, self.settings_.zone)).clean


def test_redemption_state_machine(pg_url: str) -> None:
    RedemptionMachine.url = pg_url
    machine = RedemptionMachine.TestCase
    machine.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine().runTest()
