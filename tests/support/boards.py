"""Points placed straight in the ledger at a local time, for board tests."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import TransactionKind
from points.ledger.participation import roll_changed
from points.ledger.service import Posting, earning_legs
from points.ledger.writer import post
from points.org.models import Employee, EmployeeStatus, Roll

SHANGHAI = ZoneInfo("Asia/Shanghai")
_keys = itertools.count(1)


async def award(
    session: AsyncSession, employee: Employee, points: int, when: str | datetime
) -> None:
    """Points for a person at a local time, through the ledger (period scores follow)."""
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    assert employee.id is not None
    kind = TransactionKind.award if points > 0 else TransactionKind.adjustment
    await post(
        session,
        [
            Posting(
                key=f"test:{next(_keys)}",
                kind=kind,
                employee_id=employee.id,
                department_id=employee.department_id,
                points=points,
                effective_at=moment,
                legs=earning_legs(employee.id, points),
                reason="test",
            )
        ],
        SHANGHAI,
    )


async def set_roll(
    session: AsyncSession,
    employee: Employee,
    *,
    excluded: bool | None = None,
    status: EmployeeStatus | None = None,
    left_on: date | None = None,
) -> None:
    """Exclude or include someone, or set their status (and leaving date, None unless
    given), following it in the departments' participants as the product does."""
    before = Roll.of(employee)
    if excluded is not None:
        employee.excluded = excluded
    if status is not None:
        employee.status, employee.left_on = status, left_on
    session.add(employee)
    assert employee.id is not None
    await roll_changed(session, employee.id, before, SHANGHAI)
