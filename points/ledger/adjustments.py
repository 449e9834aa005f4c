"""Manual adjustments by HR: points added or removed by hand, always with a reason."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput
from points.i18n import _
from points.ledger.models import AccountKind, TransactionKind
from points.ledger.service import balances, earning, lock_people
from points.ledger.writer import post
from points.org.models import EmployeeStatus
from points.org.service import get_employee
from points.settings import Settings

MAX_ADJUSTMENT = 100_000


async def adjust(
    session: AsyncSession,
    settings: Settings,
    *,
    userid: str,
    points: int,
    reason: str,
    author: str,
    request_key: str,
    ip: str = "",
) -> bool:
    """Add (or remove, when negative) points by hand; audited; the person sees the reason.

    ``request_key`` makes a double-posted form one adjustment. Returns False when
    that request was already applied. Removing more than is available is refused.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("An adjustment needs a reason."), code="reason_required")
    if points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise InvalidInput(_("Points must be a non-zero whole number up to 100000."))
    if not request_key or len(request_key) > 100:
        raise InvalidInput(_("This form has expired. Please try again."))
    employee = await get_employee(session, userid)
    assert employee.id is not None
    if employee.status == EmployeeStatus.left:
        raise InvalidInput(_("This person has left; their account is frozen."), code="frozen")
    await lock_people(session, [employee.id])
    if points < 0:
        available = (await balances(session, employee.id))[AccountKind.available]
        if available + points < 0:
            raise InvalidInput(
                _("Only {available} points are available to remove.").format(available=available),
                code="insufficient",
            )
    written = await post(
        session,
        [
            earning(
                f"adjust:{request_key}",
                TransactionKind.adjustment,
                employee.id,
                employee.department_id,
                points,
                utcnow(),
                author=author,
                reason=reason,
                reason_en=reason,
            )
        ],
        settings.zone,
    )
    if written:
        await record(
            session,
            actor=author,
            action="points.adjust",
            target=userid,
            details={"points": points, "reason": reason},
            ip=ip,
        )
    return bool(written)
