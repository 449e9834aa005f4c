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

Only people on the roll of the window count (:func:`on_roll`: not excluded, and
still here or left on or after the window's first day), as the boards count them:
the writer skips what people off the roll earn there, and when someone's roll
changes (excluded or included again, leaving, rejoining) :func:`roll_changed` adds
or takes them off every window they earned in where being on it changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache

from sqlalchemy import exists
from sqlalchemy import select as select_columns
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import Period, bounds, first_day, keys_of_day
from points.db import insert_for
from points.ledger.models import EARNING_KINDS, DepartmentScore, LedgerTransaction, PeriodScore
from points.ledger.service import lock_people
from points.org.models import Employee, EmployeeStatus, FormerDepartment, Roll

# (employee, department, period, period key, points earned there by the new transactions)
Change = tuple[int, int, str, str, int]

# Whoever has no employee row (never, by the foreign key) counts as on the roll.
_ON = Roll(False, EmployeeStatus.active, None)


@lru_cache(maxsize=4096)
def window_first_day(period: str, key: str) -> date:
    """The first local day of a window (what ``bounds(...)[0]`` is local midnight of).

    ``year`` starts on 1 January; ``all`` on the calendar's epoch (2000-01-01), so a
    leaver with a leaving date is on its roll and one without is not.
    """
    return first_day(Period(period), key)


def on_roll(roll: Roll, first: date) -> bool:
    """Whether a person counts for a window starting on ``first``: not excluded, and
    still here or left on or after that day (no leaving date: off every window)."""
    if roll.excluded:
        return False
    if roll.status == EmployeeStatus.active:
        return True
    return roll.left_on is not None and roll.left_on >= first


def on_roll_of(roll: Roll, period: str, key: str) -> bool:
    return on_roll(roll, window_first_day(period, key))


async def record(session: AsyncSession, changes: Sequence[Change], zone: tzinfo) -> None:
    """Move the participant counts by what ``changes`` (already written) did."""
    if not changes:
        return
    people = sorted({e for e, *_rest in changes})
    keys = sorted({k for _e, _d, _p, k, _v in changes})
    moved = exists().where(col(FormerDepartment.employee_id) == col(Employee.id))
    state: dict[int, tuple[int, bool]] = {}
    rolls: dict[int, Roll] = {}
    await session.flush()  # a roll changed earlier in this transaction is read as it is now
    connection = await session.connection()
    for e, d, m, excluded, status, left_on in (
        await connection.execute(
            select_columns(
                col(Employee.id),
                col(Employee.department_id),
                moved,
                col(Employee.excluded),
                col(Employee.status),
                col(Employee.left_on),
            ).where(col(Employee.id).in_(people))
        )
    ).all():
        state[int(e or 0)] = (int(d), bool(m))
        rolls[int(e or 0)] = Roll(bool(excluded), EmployeeStatus(status), left_on)
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
        if not on_roll_of(rolls.get(employee_id, _ON), period, key):
            continue
        current, has_moved = state.get(employee_id, (None, True))
        if current == department_id and not has_moved:
            after = scores.get((employee_id, period, key), 0)
        else:
            after = await earned_there(session, employee_id, department_id, period, key, zone)
        step = int(after > 0) - int(after - delta > 0)
        if step:
            counts[(department_id, period, key)] += step
    await _add(session, counts)


async def _add(session: AsyncSession, counts: Mapping[tuple[int, str, str], int]) -> None:
    """Add ``counts`` to the departments' participants (rows made when missing)."""
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


async def roll_changed(session: AsyncSession, employee_id: int, before: Roll, zone: tzinfo) -> None:
    """Follow a change of a person's roll (``before``: as it was; now: as written).

    Called by whoever changes ``excluded``, ``status`` or ``left_on``, in the same
    transaction. For every department and window the person earned in (what their
    transactions there add up to is above zero), they are added where they are on
    the roll now and were not, and taken off where it is the other way round. The
    lock on their account keeps a concurrent ledger writer either wholly before
    (its transactions are read here) or wholly after (it reads the new roll).
    """
    await session.flush()
    excluded, status, left_on = (
        await (await session.connection()).execute(
            select_columns(
                col(Employee.excluded), col(Employee.status), col(Employee.left_on)
            ).where(col(Employee.id) == employee_id)
        )
    ).one()
    now = Roll(bool(excluded), EmployeeStatus(status), left_on)
    if now == before:
        return
    await lock_people(session, [employee_id])
    days: dict[tuple[int, date], int] = defaultdict(int)
    for department_id, effective_at, points in (
        await session.exec(
            select(
                LedgerTransaction.department_id,
                LedgerTransaction.effective_at,
                LedgerTransaction.points,
            ).where(
                col(LedgerTransaction.employee_id) == employee_id,
                col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
                col(LedgerTransaction.department_id).is_not(None),
                col(LedgerTransaction.points) != 0,
            )
        )
    ).all():
        if department_id is not None:
            days[(int(department_id), _local_day(effective_at, zone))] += int(points)
    earned: dict[tuple[int, str, str], int] = defaultdict(int)
    for (department_id, day), points in days.items():
        for period, key in keys_of_day(day):
            earned[(department_id, period.value, key)] += points
    counts: dict[tuple[int, str, str], int] = {}
    for (department_id, period_name, key), points in earned.items():
        if points <= 0:
            continue
        first = window_first_day(period_name, key)
        step = int(on_roll(now, first)) - int(on_roll(before, first))
        if step:
            counts[(department_id, period_name, key)] = step
    await _add(session, counts)


def _local_day(moment: datetime, zone: tzinfo) -> date:
    if moment.tzinfo is None:  # SQLite hands back the UTC it stored, without a zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()
