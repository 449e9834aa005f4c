"""A small shop for reward tests: people with points, rewards, and a storm of requests."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.service import principal_for_employee
from points.db import Database, utcnow
from points.ledger.models import Account, AccountKind, TransactionKind
from points.ledger.reconcile import reconcile
from points.ledger.service import Posting, earning_legs
from points.ledger.writer import post
from points.org.models import Department, Employee, Role
from points.rewards import policy, redeem
from points.rewards.catalogue import save_reward
from points.rewards.models import Reward
from points.rewards.policy import Actor, RedemptionRefused
from points.rewards.schemas import RewardCreate
from points.settings import Settings
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

_grants = itertools.count(1)


async def give(session: AsyncSession, settings: Settings, employee_id: int, points: int) -> None:
    """Points for a test, the way HR would add them: an adjustment with a reason."""
    await post(
        session,
        [
            Posting(
                key=f"test-grant:{employee_id}:{next(_grants)}",
                kind=TransactionKind.adjustment,
                employee_id=employee_id,
                points=points,
                effective_at=utcnow(),
                legs=earning_legs(employee_id, points),
                author="test",
                reason="测试积分",
            )
        ],
        settings.zone,
    )


async def make_reward(session: AsyncSession, **fields: Any) -> Reward:
    values: dict[str, Any] = {"name": "咖啡券", "name_en": "Coffee voucher", "price": 30}
    values.update(fields)
    return await save_reward(session, RewardCreate(**values), Actor())


async def actor_for(session: AsyncSession, employee: Employee) -> Actor:
    return Actor(await principal_for_employee(session, employee))


@dataclass
class Shop:
    sales: Department
    east: Department
    finance: Department
    employee: Employee
    colleague: Employee
    head: Employee
    hr: Employee
    outsider: Employee


@pytest.fixture
async def shop(pg: Store) -> Shop:
    """销售部 › 华东区 and 财务部; 张三 and 李四 in 华东区 have 100 points each."""
    return await build_shop(pg)


@pytest.fixture
async def lite_shop(lite: Store) -> Shop:
    """The same shop in the embedded SQLite database."""
    return await build_shop(lite)


async def build_shop(store: Store) -> Shop:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        finance = await make_department(session, "财务部")
        employee = await make_employee(session, east, userid="zhangsan", name="张三")
        colleague = await make_employee(session, east, userid="lisi", name="李四")
        head = await make_employee(session, sales, userid="wangwu", name="王五", role=Role.head)
        hr = await make_employee(session, finance, userid="zhaoliu", name="赵六", role=Role.hr)
        outsider = await make_employee(session, finance, userid="zhouba", name="周八")
        for person in (employee, colleague, head, outsider):
            assert person.id is not None
            await give(session, store.settings, person.id, 100)
        await session.commit()
    return Shop(sales, east, finance, employee, colleague, head, hr, outsider)


async def reload(session: AsyncSession, employee: Employee) -> Employee:
    return (await session.exec(select(Employee).where(Employee.id == employee.id))).one()


# Many people at one reward at once (the concurrency and request-path tests).


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
