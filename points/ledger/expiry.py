"""Optional expiry: points expire N months after they were earned, oldest first.

Spending and other debits are taken from the oldest credits first (FIFO), so what
expires is whatever is left of credits older than the cut-off.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import day_start, months_before
from points.ledger.models import (
    EARNING_KINDS,
    AccountKind,
    LedgerTransaction,
    TransactionKind,
)
from points.ledger.service import Posting, balances, lock_people, moving_legs
from points.ledger.writer import post
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings


async def expire_points(session: AsyncSession, settings: Settings, today: date) -> dict[str, int]:
    """Expire what is due today for everyone; safe to run twice on the same day."""
    months = settings.EXPIRY_MONTHS
    if months <= 0:
        return {"people": 0, "points": 0}
    cutoff = day_start(months_before(today, months), settings.zone)
    earning = [k.value for k in EARNING_KINDS]
    credit = case((col(LedgerTransaction.points) > 0, LedgerTransaction.points), else_=0)
    old_credit = case(
        (
            (col(LedgerTransaction.points) > 0) & (col(LedgerTransaction.effective_at) < cutoff),
            LedgerTransaction.points,
        ),
        else_=0,
    )
    rows = (
        await session.exec(
            select(LedgerTransaction.employee_id, func.sum(credit), func.sum(old_credit))
            .join(Employee, col(Employee.id) == col(LedgerTransaction.employee_id))
            .where(
                col(LedgerTransaction.kind).in_(earning), Employee.status == EmployeeStatus.active
            )
            .group_by(col(LedgerTransaction.employee_id))
            .having(func.sum(old_credit) > 0)
        )
    ).all()
    expired_people = expired_points = 0
    for employee_id, credits, old_credits in rows:
        await lock_people(session, [employee_id])
        money = await balances(session, employee_id)
        # Everything earned that is no longer available or held has been debited.
        debited = int(credits) - money[AccountKind.available] - money[AccountKind.held]
        due = min(int(old_credits) - debited, money[AccountKind.available])
        if due <= 0:
            continue
        written = await post(
            session,
            [
                Posting(
                    key=f"expiry:{employee_id}:{today.isoformat()}",
                    kind=TransactionKind.expiry,
                    employee_id=employee_id,
                    points=due,
                    effective_at=cutoff,
                    legs=moving_legs(employee_id, AccountKind.available, AccountKind.expired, due),
                    reason=f"积分过期：{cutoff:%Y-%m-%d} 之前获得、未使用的积分",
                    reason_en=f"Expired: points earned before {cutoff:%Y-%m-%d} and not used",
                )
            ],
            settings.zone,
        )
        if written:
            expired_people += 1
            expired_points += due
    return {"people": expired_people, "points": expired_points}
