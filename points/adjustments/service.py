"""Manual adjustments under separation of duties.

Nobody adjusts their own points. An adjustment larger than
``POINTS_ADJUSTMENT_REVIEW_ABOVE`` (either sign) waits as a pending adjustment until
a second HR/admin person — neither the requester nor the person adjusted — approves
it; only then is it written to the ledger. Every step is in the audit log.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.adjustments.models import PendingAdjustment, PendingStatus
from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.db import utcnow
from points.errors import Conflict, Forbidden, InvalidInput, NotFound
from points.i18n import _
from points.ledger.adjustments import MAX_ADJUSTMENT, adjust
from points.org.models import Employee, EmployeeStatus
from points.org.service import get_employee
from points.settings import Settings

MAX_REASON = 500


class Outcome(enum.StrEnum):
    applied = "applied"  # written to the ledger now
    pending = "pending"  # waits for a second HR/admin person
    repeat = "repeat"  # this request was already applied


@dataclass(frozen=True)
class AdjustmentResult:
    outcome: Outcome
    pending_id: int | None = None


def _refuse_self(principal: Principal, userid: str) -> None:
    if principal.userid == userid:
        raise Forbidden(_("Nobody may adjust their own points."), code="own_points")


def _check(points: int, reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("An adjustment needs a reason."), code="reason_required")
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("The reason may be at most 500 characters."))
    if points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise InvalidInput(_("Points must be a non-zero whole number up to 100000."))
    return reason


async def request_adjustment(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    userid: str,
    points: int,
    reason: str,
    request_key: str,
    ip: str = "",
) -> AdjustmentResult:
    """Adjust someone's points now, or (above the threshold) ask a second person to."""
    if not principal.can(Permission.adjust_points):
        raise Forbidden(_("Only HR can adjust points."))
    _refuse_self(principal, userid)
    reason = _check(points, reason)
    if not request_key or len(request_key) > 100:
        raise InvalidInput(_("This form has expired. Please try again."))
    if abs(points) <= settings.ADJUSTMENT_REVIEW_ABOVE:
        applied = await adjust(
            session,
            settings,
            userid=userid,
            points=points,
            reason=reason,
            author=principal.audit_name,
            request_key=request_key,
            ip=ip,
        )
        return AdjustmentResult(Outcome.applied if applied else Outcome.repeat)
    employee = await get_employee(session, userid)
    if employee.status == EmployeeStatus.left:
        raise InvalidInput(_("This person has left; their account is frozen."), code="frozen")
    existing = (
        await session.exec(
            select(PendingAdjustment).where(PendingAdjustment.request_key == request_key)
        )
    ).first()
    if existing is not None:
        return AdjustmentResult(Outcome.pending, existing.id)
    assert employee.id is not None
    pending = PendingAdjustment(
        employee_id=employee.id,
        points=points,
        reason=reason,
        requested_by=principal.userid,
        request_key=request_key,
    )
    session.add(pending)
    await session.flush()
    await record(
        session,
        actor=principal.audit_name,
        action="points.adjust.request",
        target=userid,
        details={"points": points, "reason": reason, "pending_id": pending.id},
        ip=ip,
    )
    return AdjustmentResult(Outcome.pending, pending.id)


async def _pending(session: AsyncSession, pending_id: int) -> tuple[PendingAdjustment, Employee]:
    pending = await session.get(PendingAdjustment, pending_id, with_for_update=True)
    if pending is None:
        raise NotFound(_("No such adjustment."))
    employee = await session.get(Employee, pending.employee_id)
    assert employee is not None
    return pending, employee


def _second_person(principal: Principal, pending: PendingAdjustment, employee: Employee) -> None:
    if not principal.can(Permission.adjust_points):
        raise Forbidden(_("Only HR can approve adjustments."))
    _refuse_self(principal, employee.userid)
    if principal.userid == pending.requested_by:
        raise Forbidden(
            _("A second HR or admin person must approve this adjustment."), code="second_person"
        )


async def approve_adjustment(
    session: AsyncSession, settings: Settings, principal: Principal, pending_id: int, ip: str = ""
) -> PendingAdjustment:
    """The second person's yes: the adjustment is written to the ledger now."""
    pending, employee = await _pending(session, pending_id)
    _second_person(principal, pending, employee)
    if pending.status == PendingStatus.approved:
        return pending  # a second click
    if pending.status != PendingStatus.pending:
        raise Conflict(_("This adjustment was already decided."))
    await adjust(
        session,
        settings,
        userid=employee.userid,
        points=pending.points,
        reason=pending.reason,
        author=f"{pending.requested_by}+{principal.audit_name}"[:96],
        request_key=f"pending:{pending.id}",
        ip=ip,
    )
    return await _decide(session, principal, pending, employee, PendingStatus.approved, ip)


async def reject_adjustment(
    session: AsyncSession, principal: Principal, pending_id: int, ip: str = ""
) -> PendingAdjustment:
    """The second person's no (or the requester withdrawing it): nothing is written."""
    pending, employee = await _pending(session, pending_id)
    if not principal.can(Permission.adjust_points):
        raise Forbidden(_("Only HR can approve adjustments."))
    if pending.status == PendingStatus.rejected:
        return pending
    if pending.status != PendingStatus.pending:
        raise Conflict(_("This adjustment was already decided."))
    return await _decide(session, principal, pending, employee, PendingStatus.rejected, ip)


async def _decide(
    session: AsyncSession,
    principal: Principal,
    pending: PendingAdjustment,
    employee: Employee,
    status: PendingStatus,
    ip: str,
) -> PendingAdjustment:
    """Record the second person's decision on the request and in the audit log."""
    pending.status, pending.decided_by, pending.decided_at = (
        status,
        principal.audit_name,
        utcnow(),
    )
    session.add(pending)
    action = "approve" if status == PendingStatus.approved else "reject"
    await record(
        session,
        actor=principal.audit_name,
        action=f"points.adjust.{action}",
        target=employee.userid,
        details={"points": pending.points, "pending_id": pending.id},
        ip=ip,
    )
    return pending


async def waiting(session: AsyncSession) -> Sequence[tuple[PendingAdjustment, Employee]]:
    """Adjustments waiting for a second person, oldest first."""
    rows = await session.exec(
        select(PendingAdjustment, Employee)
        .join(Employee, col(Employee.id) == col(PendingAdjustment.employee_id))
        .where(PendingAdjustment.status == PendingStatus.pending)
        .order_by(col(PendingAdjustment.id))
    )
    return rows.all()
