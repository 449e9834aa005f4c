"""Warnings before points expire (POINTS_EXPIRY_REMINDER_DAYS ahead of the expiry job).

Read-only: it walks a person's credits oldest first the way expiry does (debits take
the oldest credits first) and says what is left of those that expire within the
window, and from which day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import day_start, months_before
from points.ledger.models import EARNING_KINDS, AccountKind, LedgerTransaction
from points.ledger.service import balances
from points.notifications.models import Notification
from points.notifications.service import notify
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings

KIND = "points.expiring"


@dataclass(frozen=True)
class Expiring:
    points: int
    day: date  # the first day on which some of them expire


def months_after(day: date, months: int) -> date:
    return months_before(day, -months)


async def expiring(
    session: AsyncSession, settings: Settings, employee_id: int, today: date
) -> Expiring | None:
    """Points of this person that expire within the reminder window, or None."""
    months, days = settings.EXPIRY_MONTHS, settings.EXPIRY_REMINDER_DAYS
    if months <= 0 or days <= 0:
        return None
    horizon = today + timedelta(days=days)
    cutoff = day_start(months_before(horizon, months), settings.zone)
    credits = (
        await session.exec(
            select(LedgerTransaction.effective_at, LedgerTransaction.points)
            .where(
                LedgerTransaction.employee_id == employee_id,
                col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                col(LedgerTransaction.points) > 0,
            )
            .order_by(col(LedgerTransaction.effective_at), col(LedgerTransaction.id))
        )
    ).all()
    if not credits or credits[0][0] >= cutoff:
        return None
    money = await balances(session, employee_id)
    available = money[AccountKind.available]
    debited = sum(p for _at, p in credits) - available - money[AccountKind.held]
    total, first_day = 0, None
    for at, points in credits:
        if at >= cutoff:
            break
        taken = min(points, max(debited, 0))
        debited -= taken
        if points - taken <= 0:
            continue
        total += points - taken
        if first_day is None:
            # Expiry on day T takes credits from before months_before(T): the day after
            # the credit's day, that many months on.
            earned = at.astimezone(settings.zone).date()
            first_day = max(months_after(earned + timedelta(days=1), months), today)
    total = min(total, available)
    if total <= 0 or first_day is None:
        return None
    return Expiring(points=total, day=first_day)


async def send_reminders(session: AsyncSession, settings: Settings, today: date) -> dict[str, int]:
    """One app message per person and expiry day; safe to run again the same day."""
    if settings.EXPIRY_MONTHS <= 0 or settings.EXPIRY_REMINDER_DAYS <= 0:
        return {"people": 0, "points": 0}
    horizon = today + timedelta(days=settings.EXPIRY_REMINDER_DAYS)
    cutoff = day_start(months_before(horizon, settings.EXPIRY_MONTHS), settings.zone)
    people = (
        await session.exec(
            select(Employee.id, Employee.userid)
            .where(
                Employee.status == EmployeeStatus.active,
                col(Employee.id).in_(
                    select(LedgerTransaction.employee_id).where(
                        col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                        col(LedgerTransaction.points) > 0,
                        col(LedgerTransaction.effective_at) < cutoff,
                    )
                ),
            )
            .order_by(col(Employee.id))
        )
    ).all()
    reminded = points = 0
    for employee_id, userid in people:
        assert employee_id is not None
        due = await expiring(session, settings, employee_id, today)
        if due is None:
            continue
        # One message per expiry day, whatever the amount does in between.
        prefix = f"积分将于 {due.day:%Y-%m-%d} 过期"
        already = (
            await session.exec(
                select(Notification.id).where(
                    Notification.userid == userid,
                    Notification.kind == KIND,
                    col(Notification.title).startswith(prefix),
                )
            )
        ).first()
        if already is not None:
            continue
        notify(
            session,
            userid=userid,
            kind=KIND,
            title=f"{prefix}：{due.points} 分",
            body="过期前可以在积分商城兑换奖品。",
            url="/rewards",
        )
        reminded += 1
        points += due.points
    return {"people": reminded, "points": points}
