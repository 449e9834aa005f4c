"""Reading redemptions: one with its timeline, a person's own, HR's and approvers' queues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.permissions import Permission, Principal
from points.calendar import Period, bounds_at
from points.db import utcnow
from points.errors import NotFound
from points.i18n import _
from points.ledger.models import AccountKind
from points.ledger.service import balances
from points.org.models import Department, Employee
from points.rewards.models import (
    COUNTED,
    Redemption,
    RedemptionStatus,
    RedemptionStep,
    Reward,
    VoucherCode,
)
from points.rewards.workflow import may_approve, owner_and_reward


@dataclass
class RedemptionView:
    redemption: Redemption
    reward: Reward
    employee: Employee
    steps: list[RedemptionStep]
    voucher_code: str | None  # only for the owner, only once fulfilled


async def redemption_view(
    session: AsyncSession, redemption_id: int, principal: Principal
) -> RedemptionView:
    """A redemption with its timeline, for its owner, HR, or a head who may approve it."""
    redemption = await session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(_("No such redemption."))
    owner = principal.employee_id == redemption.employee_id
    if not (
        owner
        or principal.can(Permission.fulfil_redemptions)
        or await may_approve(session, principal, redemption)
    ):
        raise NotFound(_("No such redemption."))
    employee, reward = await owner_and_reward(session, redemption)
    steps = (
        await session.exec(
            select(RedemptionStep)
            .where(RedemptionStep.redemption_id == redemption_id)
            .order_by(col(RedemptionStep.at), col(RedemptionStep.id))
        )
    ).all()
    code = None
    if owner and redemption.status == RedemptionStatus.fulfilled:
        code = (
            await session.exec(
                select(VoucherCode.code).where(VoucherCode.redemption_id == redemption_id)
            )
        ).first()
    return RedemptionView(redemption, reward, employee, list(steps), code)


async def my_redemptions(
    session: AsyncSession, employee_id: int, limit: int = 100
) -> list[tuple[Redemption, Reward]]:
    rows = await session.exec(
        select(Redemption, Reward)
        .join(Reward, col(Reward.id) == col(Redemption.reward_id))
        .where(Redemption.employee_id == employee_id)
        .order_by(col(Redemption.requested_at).desc(), col(Redemption.id).desc())
        .limit(limit)
    )
    return list(rows.all())


@dataclass
class QueueRow:
    redemption: Redemption
    reward: Reward
    employee: Employee
    department: str


async def fulfilment_queue(
    session: AsyncSession,
    *,
    statuses: Sequence[RedemptionStatus] = (RedemptionStatus.awaiting_fulfilment,),
    reward_id: int | None = None,
    department_ids: Sequence[int] | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QueueRow], int]:
    """Redemptions for HR, oldest first, with filters."""
    query = (
        select(Redemption, Reward, Employee, Department.name)
        .join(Reward, col(Reward.id) == col(Redemption.reward_id))
        .join(Employee, col(Employee.id) == col(Redemption.employee_id))
        .join(Department, col(Department.id) == col(Redemption.department_id))
        .where(col(Redemption.status).in_([s.value for s in statuses]))
    )
    if reward_id is not None:
        query = query.where(Redemption.reward_id == reward_id)
    if department_ids is not None:
        query = query.where(col(Redemption.department_id).in_(department_ids))
    if q:
        query = query.where(col(Employee.name).contains(q) | col(Employee.userid).contains(q))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(
        query.order_by(col(Redemption.requested_at), col(Redemption.id)).offset(offset).limit(limit)
    )
    return [QueueRow(r, w, e, d) for r, w, e, d in rows.all()], total


async def approval_queue(session: AsyncSession, principal: Principal) -> list[QueueRow]:
    """Requests waiting for this person's approval (HR: rewards naming HR; heads: their
    subtree for rewards naming the head)."""
    rows, _total = await fulfilment_queue(
        session, statuses=(RedemptionStatus.awaiting_approval,), limit=500
    )
    return [row for row in rows if await may_approve(session, principal, row.redemption)]


@dataclass
class ApprovalContext:
    """What an approver needs next to a request: can they afford it, how often this period."""

    available: int  # points left after the hold
    used: int  # requests for this reward counted in its limit period (this one included)
    limit: int | None
    limit_period: str | None


async def approval_context(
    session: AsyncSession, rows: Sequence[QueueRow], zone: tzinfo
) -> dict[int, ApprovalContext]:
    """Per redemption id: the person's available points and the reward's quota use."""
    found: dict[int, ApprovalContext] = {}
    for row in rows:
        redemption, reward = row.redemption, row.reward
        assert redemption.id is not None
        available = (await balances(session, redemption.employee_id))[AccountKind.available]
        used = 0
        if reward.limit_count and reward.limit_period:
            start, end = bounds_at(Period(reward.limit_period), utcnow(), zone)
            used = (
                await session.exec(
                    select(func.count()).where(
                        Redemption.employee_id == redemption.employee_id,
                        Redemption.reward_id == reward.id,
                        col(Redemption.status).in_([s.value for s in COUNTED]),
                        Redemption.requested_at >= start,
                        Redemption.requested_at < end,
                    )
                )
            ).one()
        found[redemption.id] = ApprovalContext(
            available, int(used), reward.limit_count, reward.limit_period
        )
    return found
