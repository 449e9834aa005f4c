"""The demo's prices fit what its people earn, so redeeming is within reach."""

from __future__ import annotations

import statistics
from datetime import timedelta

from sqlmodel import col, func, select

from points.db import utcnow
from points.devtools.demo.build import build_demo
from points.ledger.models import LedgerTransaction, TransactionKind
from points.rewards.models import Reward
from tests.support.services import Store


async def _earned(store: Store, days: int) -> list[int]:
    since = utcnow() - timedelta(days=days)
    async with store.db.session() as session:
        rows = await session.exec(
            select(LedgerTransaction.employee_id, func.sum(LedgerTransaction.points))
            .where(
                col(LedgerTransaction.kind).in_([TransactionKind.award, TransactionKind.reversal]),
                LedgerTransaction.effective_at >= since,
            )
            .group_by(col(LedgerTransaction.employee_id))
        )
        return sorted(int(points) for _employee, points in rows.all())


async def test_median_affords_a_coffee_in_two_weeks_top_fifth_leave_in_a_quarter(
    lite: Store,
) -> None:
    await build_demo(lite.settings, employees=120, days=90, seed=7)
    async with lite.db.session() as session:
        prices = dict((await session.exec(select(Reward.name, Reward.price))).all())
    fortnight, quarter = await _earned(lite, 14), await _earned(lite, 90)
    assert statistics.median(fortnight) >= prices["咖啡券"]
    top_fifth = quarter[int(len(quarter) * 0.8)]
    assert top_fifth >= prices["带薪休假半天"]
    # …and the dearest rewards stay something to save up for.
    assert statistics.median(quarter) < prices["带薪休假半天"]
