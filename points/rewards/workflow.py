"""A redemption after its request: approve, fulfil, decline, cancel, expire, release.

Every transition locks the owner first (as requests do), then the redemption.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.db import is_postgres, utcnow
from points.errors import Conflict, Forbidden, InvalidInput, NotFound
from points.i18n import _
from points.ledger.models import TransactionKind
from points.ledger.service import lock_people
from points.ledger.writer import post
from points.org.models import Department, Employee
from points.rewards.models import (
    PENDING,
    Approver,
    Fulfilment,
    Redemption,
    RedemptionStatus,
    Reward,
    VoucherCode,
)
from points.rewards.notices import add_step, tell
from points.rewards.policy import SYSTEM, Actor
from points.rewards.postings import redemption_posting
from points.settings import Settings


async def lock_redemption(session: AsyncSession, redemption_id: int) -> Redemption:
    """The redemption, with its owner locked first (the same order as requests take)."""
    first = await session.get(Redemption, redemption_id)
    if first is None:
        raise NotFound(_("No such redemption."))
    await lock_people(session, [first.employee_id])
    query = (
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update()
    return (await session.exec(query)).one()


async def owner_and_reward(
    session: AsyncSession, redemption: Redemption
) -> tuple[Employee, Reward]:
    employee = await session.get(Employee, redemption.employee_id)
    reward = await session.get(Reward, redemption.reward_id)
    assert employee is not None and reward is not None
    return employee, reward


async def may_approve(session: AsyncSession, principal: Principal, redemption: Redemption) -> bool:
    """HR approve rewards that name HR; heads approve rewards naming the head, for
    people in their subtree. Nobody approves their own redemption."""
    if principal.employee_id is not None and principal.employee_id == redemption.employee_id:
        return False
    reward = await session.get(Reward, redemption.reward_id)
    assert reward is not None
    if reward.approver == Approver.hr:
        return principal.can(Permission.fulfil_redemptions)
    if reward.approver != Approver.head or not principal.can(Permission.approve_redemptions):
        return False
    if principal.employee_id == redemption.employee_id or not principal.head_of:
        return False
    employee = await session.get(Employee, redemption.employee_id)
    assert employee is not None
    department = await session.get(Department, employee.department_id)
    assert department is not None
    chain = {int(p) for p in department.path.strip("/").split("/") if p}
    return bool(chain & set(principal.head_of))


async def approve(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """Approve a request that needs it; it moves to the fulfilment queue. Audited."""
    redemption = await lock_redemption(session, redemption_id)
    principal = actor.principal
    if principal is None or not await may_approve(session, principal, redemption):
        raise Forbidden(_("You cannot approve this redemption."))
    if redemption.status == RedemptionStatus.awaiting_fulfilment and redemption.approved_at:
        return redemption  # a second click
    if redemption.status != RedemptionStatus.awaiting_approval:
        raise Conflict(_("This redemption is no longer waiting for approval."))
    now = utcnow()
    employee, reward = await owner_and_reward(session, redemption)
    redemption.status = RedemptionStatus.awaiting_fulfilment
    redemption.approved_at, redemption.approved_by = now, actor.name
    # HR gets the reward's full window to hand it over, counted from the approval.
    redemption.expires_at = now + timedelta(days=reward.expire_after_days)
    session.add(redemption)
    add_step(session, redemption, actor, now, note=_("Approved"))
    await _audit(session, actor, "redemption.approve", redemption)
    tell(session, settings, employee, reward, redemption)
    if reward.fulfilment == Fulfilment.voucher:
        await fulfil_locked(session, settings, redemption, reward, employee, actor, now)
    return redemption


def _own(actor: Actor, redemption: Redemption) -> bool:
    principal = actor.principal
    return principal is not None and principal.employee_id == redemption.employee_id


async def fulfil(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """Hand it over: the held points are spent, a reserved code is given. Audited."""
    if actor.principal is None or not actor.principal.can(Permission.fulfil_redemptions):
        raise Forbidden(_("Only HR can fulfil redemptions."))
    redemption = await lock_redemption(session, redemption_id)
    if _own(actor, redemption):
        raise Forbidden(_("Nobody may fulfil their own redemption."), code="own_redemption")
    if redemption.status == RedemptionStatus.fulfilled:
        return redemption  # a second click
    if redemption.status != RedemptionStatus.awaiting_fulfilment:
        raise Conflict(_("This redemption cannot be fulfilled now."))
    employee, reward = await owner_and_reward(session, redemption)
    await fulfil_locked(session, settings, redemption, reward, employee, actor, utcnow())
    return redemption


async def fulfil_many(
    session: AsyncSession, settings: Settings, redemption_ids: Sequence[int], actor: Actor
) -> int:
    """Bulk fulfil; redemptions not waiting for fulfilment are skipped. Returns how many."""
    done = 0
    for redemption_id in sorted(set(redemption_ids)):
        redemption = await lock_redemption(session, redemption_id)
        if redemption.status != RedemptionStatus.awaiting_fulfilment or _own(actor, redemption):
            continue  # one's own waits for a colleague
        await fulfil(session, settings, redemption_id, actor)
        done += 1
    return done


async def fulfil_locked(
    session: AsyncSession,
    settings: Settings,
    redemption: Redemption,
    reward: Reward,
    employee: Employee,
    actor: Actor,
    now: datetime,
) -> None:
    assert redemption.id is not None
    spend = redemption_posting(
        TransactionKind.spend, redemption, reward.name, reward.name_en, actor.name, now
    )
    await post(session, [spend], settings.zone)
    if reward.fulfilment == Fulfilment.voucher:
        given = await session.exec(
            update(VoucherCode)
            .where(col(VoucherCode.redemption_id) == redemption.id)
            .values(given_at=now)
        )
        if given.rowcount != 1:
            raise Conflict(_("No voucher code is reserved for this redemption."))
    redemption.status = RedemptionStatus.fulfilled
    redemption.closed_at, redemption.closed_by = now, actor.name
    session.add(redemption)
    add_step(session, redemption, actor, now)
    await _audit(session, actor, "redemption.fulfil", redemption)
    tell(session, settings, employee, reward, redemption)


async def decline(
    session: AsyncSession, settings: Settings, redemption_id: int, reason: str, actor: Actor
) -> Redemption:
    """Say no, with a reason; the hold is released. Approvers and HR may decline."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("Say why it is declined."))
    redemption = await lock_redemption(session, redemption_id)
    principal = actor.principal
    allowed = principal is not None and (
        principal.can(Permission.fulfil_redemptions)
        or await may_approve(session, principal, redemption)
    )
    if not allowed:
        raise Forbidden(_("You cannot decline this redemption."))
    if redemption.status == RedemptionStatus.declined:
        return redemption
    await _close(session, settings, redemption, RedemptionStatus.declined, actor, reason)
    return redemption


async def cancel(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """The person changed their mind before fulfilment; the hold is released."""
    redemption = await lock_redemption(session, redemption_id)
    if actor.principal is None or actor.principal.employee_id != redemption.employee_id:
        raise Forbidden(_("Only the person who asked can cancel."))
    if redemption.status == RedemptionStatus.cancelled:
        return redemption
    await _close(session, settings, redemption, RedemptionStatus.cancelled, actor, "")
    return redemption


async def _close(
    session: AsyncSession,
    settings: Settings,
    redemption: Redemption,
    status: RedemptionStatus,
    actor: Actor,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Decline, cancel or expire: release the hold, the reserved code and the unit of stock."""
    if redemption.status not in PENDING:
        raise Conflict(_("This redemption is already closed."))
    assert redemption.id is not None
    now = now or utcnow()
    employee, reward = await owner_and_reward(session, redemption)
    release = redemption_posting(
        TransactionKind.release, redemption, reward.name, reward.name_en, actor.name, now
    )
    await post(session, [release], settings.zone)
    await session.exec(
        update(VoucherCode)
        .where(col(VoucherCode.redemption_id) == redemption.id, col(VoucherCode.given_at).is_(None))
        .values(redemption_id=None)
    )
    await session.exec(
        update(Reward)
        .where(col(Reward.id) == reward.id, col(Reward.stock).is_not(None))
        .values(stock=col(Reward.stock) + 1)
        .execution_options(synchronize_session=False)
    )
    redemption.status = status
    redemption.closed_at, redemption.closed_by = now, actor.name
    redemption.reason = reason[:500]
    session.add(redemption)
    add_step(session, redemption, actor, now, note=reason)
    await _audit(session, actor, f"redemption.{_ACTIONS[status]}", redemption, reason=reason)
    tell(session, settings, employee, reward, redemption)


_ACTIONS = {
    RedemptionStatus.declined: "decline",
    RedemptionStatus.cancelled: "cancel",
    RedemptionStatus.expired: "expire",
}


async def _audit(
    session: AsyncSession, actor: Actor, action: str, redemption: Redemption, reason: str = ""
) -> None:
    details: dict[str, Any] = {
        "employee_id": redemption.employee_id,
        "reward_id": redemption.reward_id,
        "price": redemption.price,
    }
    if reason:
        details["reason"] = reason
    await record(
        session,
        actor=actor.name,
        action=action,
        target=f"redemption:{redemption.id}",
        details=details,
        ip=actor.ip,
        user_agent=actor.user_agent,
    )


async def expire_due(
    session: AsyncSession, settings: Settings, now: datetime | None = None, limit: int = 500
) -> int:
    """Release pending redemptions nobody acted on before ``expires_at``. Returns how many."""
    now = now or utcnow()
    ids = (
        await session.exec(
            select(Redemption.id)
            .where(
                col(Redemption.status).in_([s.value for s in PENDING]), Redemption.expires_at <= now
            )
            .order_by(col(Redemption.id))
            .limit(limit)
        )
    ).all()
    done = 0
    for redemption_id in ids:
        assert redemption_id is not None
        redemption = await lock_redemption(session, redemption_id)
        if redemption.status in PENDING:
            await _close(
                session,
                settings,
                redemption,
                RedemptionStatus.expired,
                SYSTEM,
                _("Nobody acted on it in time"),
                now,
            )
            done += 1
    return done


async def release_holds_of(
    session: AsyncSession, settings: Settings, employee_id: int, reason: str
) -> int:
    """Cancel every pending redemption of a person (the leaver flow); returns how many."""
    await lock_people(session, [employee_id])
    ids = (
        await session.exec(
            select(Redemption.id)
            .where(
                Redemption.employee_id == employee_id,
                col(Redemption.status).in_([s.value for s in PENDING]),
            )
            .order_by(col(Redemption.id))
        )
    ).all()
    for redemption_id in ids:
        assert redemption_id is not None
        redemption = await lock_redemption(session, redemption_id)
        await _close(
            session, settings, redemption, RedemptionStatus.cancelled, SYSTEM, reason or "left"
        )
    return len(ids)
