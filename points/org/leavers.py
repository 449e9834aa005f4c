"""The leaver flow: a person who left keeps their history, but their account freezes.

What a leaver still holds elsewhere (pending redemptions) is released by the function
the caller passes in: that domain sits above the organisation, which imports none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.org.models import EmployeeStatus, Roll
from points.org.service import RollChanged, end_sessions, get_employee
from points.settings import Settings

#: ``(session, settings, employee_id, reason) -> how many were released``
ReleaseHolds = Callable[[AsyncSession, Settings, int, str], Awaitable[int]]


async def mark_left(
    session: AsyncSession,
    settings: Settings,
    userid: str,
    reason: str,
    *,
    release_holds: ReleaseHolds,
    roll_changed: RollChanged,
    actor: str = "system",
    left_on: date | None = None,
) -> bool:
    """Freeze a leaver: no more earning or redeeming, pending redemptions released,
    and off the roll of the windows that begin after ``left_on`` (``roll_changed``).

    Returns False when the person had already left (nothing changes then).
    """
    # Locked and read afresh: two leaver flows at once (the contacts sync and a
    # delete_user callback) must not both take the person off the roll.
    employee = await get_employee(session, userid, lock=True)
    if employee.status == EmployeeStatus.left:
        return False
    assert employee.id is not None
    before = Roll.of(employee)
    employee.status = EmployeeStatus.left
    employee.left_on = left_on or date.today()
    end_sessions(employee)
    session.add(employee)
    await roll_changed(session, employee.id, before, settings.zone)
    released = await release_holds(session, settings, employee.id, reason)
    await record(
        session,
        actor=actor,
        action="employee.left",
        target=userid,
        details={"reason": reason, "holds_released": released},
    )
    return True
