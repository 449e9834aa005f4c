"""``points bench`` scenario "redemption": successful redemptions/s on one hot reward.

Concurrent clients request the same reward (finite stock, so every request takes
the conditional ``UPDATE … WHERE stock > 0`` on one row) for many different
people, each request its own transaction — the real ``request_redemption``:
lock the person and read what the checks need, check balance, stock, limit,
audience, window and frozen account, write the redemption, the ledger hold, the
timeline, audit and outbox rows and take the stock, commit. The baseline, in the
same run on the same database with the same clients and pool, is the bare conditional
``UPDATE account SET balance = balance - 1 WHERE id = … AND balance > 0`` of one
balance row, autocommitted.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid

from sqlalchemy import insert, text
from sqlmodel import col, select

from points.db import Database, utcnow
from points.devtools.bench import BenchResult
from points.devtools.bench.scratch import admin_sql as _admin
from points.devtools.bench.scratch import dsn as _dsn
from points.ledger.models import Account, AccountKind, TransactionKind
from points.ledger.service import Posting, earning_legs
from points.ledger.writer import post
from points.migrate import upgrade_async
from points.org.models import Employee
from points.org.service import upsert_department
from points.rewards import catalogue, policy, redeem
from points.rewards.schemas import RewardCreate
from points.settings import Settings

DEFAULT_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432"
CLIENTS = 16


async def _setup(db: Database, settings: Settings, people: int) -> tuple[int, list[int], int]:
    """A reward with plenty of stock, people with plenty of points, a hot balance row."""
    async with db.session() as session:
        await upsert_department(session, id=1, name="星河科技", parent_id=None)
        await session.exec(
            insert(Employee).values(
                [
                    {
                        "userid": f"bench{i:05d}",
                        "name": f"员工{i}",
                        "department_id": 1,
                        "title": "",
                        "status": "active",
                        "excluded": False,
                        "board_opt_out": False,
                        "created_at": utcnow(),
                    }
                    for i in range(people + 1)
                ]
            )
        )
        ids = [
            i
            for i in (await session.exec(select(Employee.id).order_by(col(Employee.id)))).all()
            if i is not None
        ]
        await post(
            session,
            [
                Posting(
                    key=f"bench-grant:{i}",
                    kind=TransactionKind.adjustment,
                    employee_id=i,
                    points=1_000_000,
                    effective_at=utcnow(),
                    legs=earning_legs(i, 1_000_000),
                    author="bench",
                    reason="bench",
                )
                for i in ids
            ],
            settings.zone,
        )
        reward = await catalogue.save_reward(
            session,
            RewardCreate(name="咖啡券", price=1, stock=100_000_000),
            policy.SYSTEM,
        )
        hot = (
            await session.exec(
                select(Account.id).where(
                    Account.employee_id == ids[-1], Account.kind == AccountKind.available
                )
            )
        ).one()
        await session.commit()
    assert reward.id is not None and hot is not None
    return reward.id, ids[:-1], hot


async def _redemptions(
    db: Database, settings: Settings, reward_id: int, people: list[int], seconds: float
) -> tuple[int, int]:
    done = refused = 0
    deadline = time.perf_counter() + seconds

    async def client(mine: list[int]) -> None:
        nonlocal done, refused
        for employee_id in itertools.cycle(mine):
            if time.perf_counter() >= deadline:
                return
            try:
                async with db.session() as session:
                    await redeem.request_redemption(
                        session,
                        settings,
                        reward_id=reward_id,
                        employee_id=employee_id,
                        actor=policy.SYSTEM,
                    )
                    await session.commit()
                done += 1
            except policy.RedemptionRefused:
                refused += 1

    await asyncio.gather(*(client(people[i::CLIENTS]) for i in range(CLIENTS)))
    return done, refused


async def _bare_updates(db: Database, account_id: int, seconds: float) -> int:
    done = 0
    deadline = time.perf_counter() + seconds
    statement = text("UPDATE account SET balance = balance - 1 WHERE id = :id AND balance > 0")

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with db.engine.begin() as conn:
                result = await conn.execute(statement, {"id": account_id})
            done += result.rowcount

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return done


async def run(quick: bool) -> BenchResult:
    seconds = 2.0 if quick else 6.0
    base = _dsn(os.environ.get("POINTS_BENCH_PG", DEFAULT_BASE))
    name = f"points_bench_{uuid.uuid4().hex[:10]}"
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    try:
        await upgrade_async(url)
        settings = Settings(DATABASE_URL=url)
        db = Database(settings, pool_size=CLIENTS, max_overflow=0)
        try:
            reward_id, people, hot = await _setup(db, settings, 20 * CLIENTS)
            # Warm the pool and the caches for both, then measure.
            await _redemptions(db, settings, reward_id, people, 0.3)
            await _bare_updates(db, hot, 0.3)
            baseline = await _bare_updates(db, hot, seconds)
            done, refused = await _redemptions(db, settings, reward_id, people, seconds)
        finally:
            await db.dispose()
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return BenchResult(
        name="redemption",
        unit="redemptions/s",
        figure=round(done / seconds, 1),
        baseline=round(baseline / seconds, 1),
        baseline_name="bare conditional UPDATE of one balance row (same clients, same pool)",
        goal="at least 0.3 of the baseline",
        details={
            "clients": CLIENTS,
            "seconds": seconds,
            "redemptions": done,
            "refused": refused,
            "database": "postgresql",
            "path": "lock person + read → checks → redemption + hold + timeline + audit + "
            "outbox + stock UPDATE → commit",
        },
    )
