"""The demo catalogue, and some redemption history in every state."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.service import principal_for_employee
from points.db import utcnow
from points.ledger.models import Account, AccountKind, TransactionKind
from points.ledger.service import Posting, earning_legs
from points.ledger.writer import post
from points.org.models import Employee, EmployeeStatus, Role, RoleAssignment
from points.org.service import department_chain
from points.rewards import catalogue, policy, redeem, vouchers, workflow
from points.rewards.models import Reward
from points.rewards.schemas import RewardCreate
from points.settings import Settings

# Priced from what the demo's people earn (about 1 point a day at the median, 1.7 in
# the top fifth): the median person affords a coffee within two weeks and the top
# fifth half a day of paid leave within a quarter (tests/test_demo.py checks both).
CATALOGUE: tuple[dict[str, Any], ...] = (
    {
        "name": "咖啡券",
        "name_en": "Coffee voucher",
        "icon": "☕",
        "price": 10,
        "description": "楼下咖啡店任意中杯一杯，券码当场可用。",
        "description_en": "Any medium coffee downstairs; the code works at once.",
        "fulfilment": "voucher",
        "limit_count": 5,
        "limit_period": "week",
    },
    {
        "name": "午餐券",
        "name_en": "Lunch voucher",
        "icon": "🍱",
        "price": 25,
        "description": "公司食堂或合作餐厅午餐一份，行政部发放纸质券。",
        "description_en": "One lunch at the canteen or a partner restaurant.",
        "stock": 60,
    },
    {
        "name": "图书卡",
        "name_en": "Book card",
        "icon": "📚",
        "price": 60,
        "description": "100 元图书卡，HR 审核后发放。",
        "description_en": "A 100 yuan book card, approved by HR.",
        "stock": 20,
        "approver": "hr",
    },
    {
        "name": "带薪休假半天",
        "name_en": "Half a day of paid leave",
        "icon": "🏖️",
        "price": 120,
        "description": "4 小时带薪假，由你的主管审批，每季度限 1 次。",
        "description_en": "4 hours of paid leave, approved by your head; once a quarter.",
        "fulfilment": "leave",
        "leave_hours": 4,
        "limit_count": 1,
        "limit_period": "quarter",
    },
    {
        "name": "定制周边 T 恤",
        "name_en": "Company T-shirt",
        "icon": "👕",
        "price": 50,
        "description": "星河科技限定款 T 恤，尺码在备注里告诉行政。",
        "description_en": "Limited-edition company T-shirt.",
        "stock": 6,
        "low_stock_at": 5,
    },
    {
        "name": "机械键盘",
        "name_en": "Mechanical keyboard",
        "icon": "⌨️",
        "price": 200,
        "description": "技术部专享：一把好键盘。",
        "description_en": "For the Technology department: a good keyboard.",
        "stock": 5,
        "approver": "hr",
        "audience": [7],
    },
    {
        "name": "年会抽奖券",
        "name_en": "Annual party raffle ticket",
        "icon": "🎟️",
        "price": 15,
        "description": "年会当晚抽奖用，下月开放兑换。",
        "description_en": "For the raffle at the annual party; opens next month.",
        "window_days": (30, 60),
    },
    {
        "name": "电影票",
        "name_en": "Cinema ticket",
        "icon": "🎬",
        "price": 20,
        "description": "已下架。",
        "active": False,
    },
)


async def build_demo_rewards(session: AsyncSession, settings: Settings, seed: int) -> str:
    """Stock the catalogue and play out redemptions in every state; the caller commits.

    Uses people who earned enough; if the demo has no activity yet, a few people get
    a welcome adjustment (with author and reason) so the history is not empty.
    """
    rng = random.Random(seed)
    now = utcnow()
    rewards: dict[str, Reward] = {}
    existing = {r.name: r for r in await catalogue.list_rewards(session, include_inactive=True)}
    for order, entry in enumerate(CATALOGUE):
        values = {k: v for k, v in entry.items() if k != "window_days"}
        if "window_days" in entry:
            start, end = entry["window_days"]
            values["available_from"] = now + timedelta(days=start)
            values["available_until"] = now + timedelta(days=end)
        values["sort_order"] = order
        old = existing.get(values["name"])
        rewards[values["name"]] = await catalogue.save_reward(
            session, RewardCreate(**values), policy.SYSTEM, old.id if old else None
        )
    coffee = rewards["咖啡券"]
    assert coffee.id is not None
    codes = "\n".join(f"XH-COFFEE-{seed:02d}{i:04d}" for i in range(120))
    await vouchers.upload_codes(session, coffee.id, codes, "demo-coffee.csv", policy.SYSTEM)

    people = await _people_with_points(session, 120)
    if len(people) < 8:
        await _welcome_points(session, settings, rng, now)
        people = await _people_with_points(session, 120)
    hr = await _someone_with(session, Role.hr)
    if hr is None or not people:
        return f"{len(rewards)} rewards in the catalogue"
    hr_actor = policy.Actor(await principal_for_employee(session, hr))
    rng.shuffle(people)
    made = 0
    plan = ["咖啡券", "午餐券", "图书卡", "带薪休假半天", "定制周边 T 恤"]
    for index, employee in enumerate(people[:24]):
        assert employee.id is not None
        reward = rewards[plan[index % len(plan)]]
        fate = index % 6
        days_ago = 20 if fate == 4 else rng.randint(0, 12)
        asked = now - timedelta(days=days_ago, hours=rng.randint(0, 8))
        try:
            result = await redeem.request_redemption(
                session,
                settings,
                reward_id=reward.id or 0,
                employee_id=employee.id,
                actor=policy.Actor(await principal_for_employee(session, employee)),
                # Leave is asked for a day one to two weeks ahead (other rewards ignore it).
                leave_date=asked.astimezone(settings.zone).date() + timedelta(days=7 + index % 7),
                now=asked,
            )
        except policy.RedemptionRefused:
            continue
        made += 1
        redemption = result.redemption
        assert redemption.id is not None
        if redemption.status == "fulfilled":
            continue  # a voucher, delivered at once
        hr_person = hr_actor.principal.employee_id if hr_actor.principal else None
        if fate == 0 or employee.id == hr_person:
            continue  # left pending (HR's own waits for a colleague: nobody serves themselves)
        if redemption.status == "awaiting_approval":
            approver = hr_actor if reward.approver == "hr" else await _head_for(session, employee)
            if approver is None or fate == 1:
                continue
            if fate == 2:
                await workflow.decline(
                    session, settings, redemption.id, "本季度预算已用完，请下季度再申请", approver
                )
                continue
            await workflow.approve(session, settings, redemption.id, approver)
        if fate == 3:
            employee_actor = policy.Actor(await principal_for_employee(session, employee))
            await workflow.cancel(session, settings, redemption.id, employee_actor)
        elif fate == 4:
            await workflow.expire_due(session, settings, now)
        elif fate != 1:
            await workflow.fulfil(session, settings, redemption.id, hr_actor)
    await workflow.expire_due(session, settings, now)
    return f"{len(rewards)} rewards in the catalogue, {made} redemptions played out"


async def _people_with_points(session: AsyncSession, at_least: int) -> list[Employee]:
    rows = await session.exec(
        select(Employee)
        .join(Account, col(Account.employee_id) == col(Employee.id))
        .where(
            Account.kind == AccountKind.available,
            Account.balance >= at_least,
            Employee.status == EmployeeStatus.active,
            col(Employee.excluded).is_(False),
        )
        .order_by(col(Employee.id))
    )
    return list(rows.all())


async def _welcome_points(
    session: AsyncSession, settings: Settings, rng: random.Random, now: Any
) -> None:
    everyone = list(
        (
            await session.exec(
                select(Employee.id).where(
                    Employee.status == EmployeeStatus.active, col(Employee.excluded).is_(False)
                )
            )
        ).all()
    )
    chosen = rng.sample(everyone, min(20, len(everyone)))
    await post(
        session,
        [
            Posting(
                key=f"demo-welcome:{employee_id}",
                kind=TransactionKind.adjustment,
                employee_id=employee_id,
                points=800,
                effective_at=now - timedelta(days=30),
                legs=earning_legs(employee_id, 800),
                author="demo",
                reason="试点启动欢迎积分",
                reason_en="Pilot launch welcome points",
            )
            for employee_id in chosen
            if employee_id is not None
        ],
        settings.zone,
    )


async def _someone_with(session: AsyncSession, role: Role) -> Employee | None:
    return (
        await session.exec(
            select(Employee)
            .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
            .where(RoleAssignment.role == role)
            .order_by(col(Employee.id))
        )
    ).first()


async def _head_for(session: AsyncSession, employee: Employee) -> policy.Actor | None:
    """An active head above the person (never themselves) who may approve."""
    heads = (
        await session.exec(
            select(Employee)
            .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
            .where(RoleAssignment.role == Role.head, Employee.id != employee.id)
        )
    ).all()
    for head in heads:
        actor = policy.Actor(await principal_for_employee(session, head))
        assert actor.principal is not None
        if actor.principal.head_of and await _may(session, actor, employee):
            return actor
    return None


async def _may(session: AsyncSession, actor: policy.Actor, employee: Employee) -> bool:
    chain = {d.id for d in await department_chain(session, employee.department_id)}
    assert actor.principal is not None
    return bool(chain & set(actor.principal.head_of))
