"""How many people earned in a department and period, kept with its department score.

``department_score.participants`` counts the people whose earning transactions
carrying that department add up to more than zero in the period: the department
boards read it instead of joining every member with their score. The ledger writer
keeps it (:func:`record`, after the rows of :func:`points.ledger.writer.post`, in the
same database transaction): for each person, department and period the new
transactions touch, it compares what the person had earned there before and after,
and adds one when that crosses above zero, takes one off when it falls back to zero
or below (a reversal, a revocation).

What a person earned in a department is their period score when every transaction
of theirs carries that department: they never moved (no ``former_department`` row)
and it is the department they are in. For people who moved (few) it is summed from
their own transactions in the period. Movers count where they earned, exactly as
the department's points do. Writers of one person are serialised by the lock on
their account, so the before and after are that person's alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import tzinfo

from sqlalchemy import exists
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import Period, bounds
from points.db import insert_for
from points.ledger.models import EARNING_KINDS, DepartmentScore, LedgerTransaction, PeriodScore
from points.org.models import Employee, FormerDepartment

# (employee, department, period, period key, points earned there by the new transactions)
Change = tuple[int, int, str, str, int]


async def record(session: AsyncSession, changes: Sequence[Change], zone: tzinfo) -> None:
    """Move the participant counts by what ``changes`` (already written) did."""
    if not changes:
        return
    people = sorted({e for e, *_rest in changes})
    keys = sorted({k for _e, _d, _p, k, _v in changes})
    moved = exists().where(col(FormerDepartment.employee_id) == col(Employee.id))
    state = {
        int(e or 0): (int(d), bool(m))
        for e, d, m in (
            await session.exec(
                select(Employee.id, Employee.department_id, moved).where(
                    col(Employee.id).in_(people)
                )
            )
        ).all()
    }
    scores = {
        (int(e), str(p), str(k)): int(v)
        for e, p, k, v in (
            await session.exec(
                select(
                    PeriodScore.employee_id,
                    PeriodScore.period,
                    PeriodScore.period_key,
                    PeriodScore.points,
                ).where(
                    col(PeriodScore.employee_id).in_(people), col(PeriodScore.period_key).in_(keys)
                )
            )
        ).all()
    }
    counts: dict[tuple[int, str, str], int] = defaultdict(int)
    for employee_id, department_id, period, key, delta in changes:
        current, has_moved = state.get(employee_id, (None, True))
        if current == department_id and not has_moved:
            after = scores.get((employee_id, period, key), 0)
        else:
            after = await earned_there(session, employee_id, department_id, period, key, zone)
        step = int(after > 0) - int(after - delta > 0)
        if step:
            counts[(department_id, period, key)] += step
    values = [
        {"department_id": d, "period": p, "period_key": k, "points": 0, "participants": n}
        for (d, p, k), n in sorted(counts.items())
        if n
    ]
    if not values:
        return
    upsert = insert_for(session, DepartmentScore)
    upsert = upsert.on_conflict_do_update(
        index_elements=["department_id", "period", "period_key"],
        set_={"participants": DepartmentScore.participants + upsert.excluded.participants},
    )
    await (await session.connection()).execute(upsert, values)


async def earned_there(
    session: AsyncSession, employee_id: int, department_id: int, period: str, key: str, zone: tzinfo
) -> int:
    """What a person earned in a department in a period, from their own transactions."""
    start, end = bounds(Period(period), key, zone)
    total = (
        await session.exec(
            select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                col(LedgerTransaction.employee_id) == employee_id,
                col(LedgerTransaction.department_id) == department_id,
                col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                col(LedgerTransaction.effective_at) >= start,
                col(LedgerTransaction.effective_at) < end,
            )
        )
    ).one()
    return int(total or 0)
