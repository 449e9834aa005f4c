"""What rewards cost: points spent and held per reward or department, and its CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.csv_export import csv_text
from points.errors import InvalidInput
from points.i18n import _
from points.org.models import Department
from points.rewards.models import (
    PENDING,
    Redemption,
    RedemptionStatus,
    Reward,
)
from points.rewards.policy import Actor


@dataclass
class SpendRow:
    key: int
    name: str
    fulfilled: int
    spent: int
    pending: int
    held: int


async def spend_report(
    session: AsyncSession, *, by: str, since: datetime | None, until: datetime | None
) -> list[SpendRow]:
    """Points spent (fulfilled) and held (pending) per reward or per department.

    Fulfilled redemptions count by when they were fulfilled, pending ones by request.
    """
    if by not in ("reward", "department"):
        raise InvalidInput(_("Group by reward or department."))
    key = col(Redemption.reward_id) if by == "reward" else col(Redemption.department_id)
    name = col(Reward.name) if by == "reward" else col(Department.name)
    report: dict[int, SpendRow] = {}
    for closed, statuses, moment in (
        (True, [RedemptionStatus.fulfilled.value], col(Redemption.closed_at)),
        (False, [s.value for s in PENDING], col(Redemption.requested_at)),
    ):
        query = (
            select(key, name, func.count(), func.sum(col(Redemption.price)))
            .join(Reward, col(Reward.id) == col(Redemption.reward_id))
            .join(Department, col(Department.id) == col(Redemption.department_id))
            .where(col(Redemption.status).in_(statuses))
            .group_by(key, name)
        )
        if since is not None:
            query = query.where(moment >= since)
        if until is not None:
            query = query.where(moment < until)
        for k, n, count, points in (await session.exec(query)).all():
            row = report.setdefault(int(k), SpendRow(int(k), str(n), 0, 0, 0, 0))
            if closed:
                row.fulfilled, row.spent = int(count), int(points or 0)
            else:
                row.pending, row.held = int(count), int(points or 0)
    return sorted(report.values(), key=lambda r: (-r.spent, -r.held, r.name))


def spend_csv(rows: Sequence[SpendRow], by: str) -> str:
    """The report as CSV with a UTF-8 BOM, so Excel opens the Chinese names correctly."""
    header = [
        "reward_id" if by == "reward" else "department_id",
        "name",
        "fulfilled",
        "points_spent",
        "pending",
        "points_held",
    ]
    return csv_text(
        [header, *([r.key, r.name, r.fulfilled, r.spent, r.pending, r.held] for r in rows)]
    )


async def record_export(
    session: AsyncSession,
    actor: Actor,
    by: str,
    rows: int,
    since: datetime | None,
    until: datetime | None,
) -> None:
    await record(
        session,
        actor=actor.name,
        action="rewards.export",
        target=f"spend_by_{by}",
        details={
            "rows": rows,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
