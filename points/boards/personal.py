"""What a person sees about their own points: balances, periods, rank (from the boards), history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.ranking import company_rank
from points.calendar import keys_at
from points.db import utcnow
from points.ledger.models import (
    AccountKind,
    LedgerTransaction,
    Period,
    PeriodScore,
    RuleStreak,
    TransactionKind,
)
from points.ledger.service import balances
from points.org.models import Department, Employee, EmployeeStatus
from points.settings import Settings
from rules.periods import day_ordinal


@dataclass
class PersonFigures:
    available: int
    held: int
    today: int
    week: int
    month: int
    all_time: int
    rank_company: int | None  # this month, among people who can appear on boards
    rank_department: int | None
    badges: list[str]
    current_streak: int  # days in a daily streak still running (today or yesterday counts)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


async def _rank(
    session: AsyncSession,
    period: Period,
    key: str,
    points: int,
    department_path: str | None,
    zone: tzinfo,
) -> int | None:
    """1 + how many people on the board scored more.

    The company rank comes from the process's rank index (a bisection; counting
    everyone above a mid-ranked person in SQL grows with the rank). A department's
    count starts from the department's people, so it costs the department's size.
    """
    if points <= 0:
        return None
    if department_path is None:
        indexed = await company_rank(session, period, key, zone, points)
        if indexed is not None:
            return indexed
    query = (
        select(func.count())
        .select_from(PeriodScore)
        .join(Employee, col(Employee.id) == col(PeriodScore.employee_id))
        .where(
            PeriodScore.period == period.value,
            PeriodScore.period_key == key,
            PeriodScore.points > points,
            col(Employee.excluded).is_(False),
            Employee.status == EmployeeStatus.active,
        )
    )
    if department_path is not None:
        query = query.join(Department, col(Department.id) == col(Employee.department_id)).where(
            col(Department.path).startswith(department_path)
        )
    ahead = (await session.exec(query)).one()
    return int(ahead) + 1


async def person_figures(
    session: AsyncSession, settings: Settings, employee: Employee, now: datetime | None = None
) -> PersonFigures:
    assert employee.id is not None
    keys = dict(keys_at(now or utcnow(), settings.zone))
    rows = await session.exec(
        select(PeriodScore.period, PeriodScore.period_key, PeriodScore.points).where(
            PeriodScore.employee_id == employee.id
        )
    )
    scores = {(str(p), k): v for p, k, v in rows.all()}

    def score(period: Period) -> int:
        return scores.get((period.value, keys[period]), 0)

    money = await balances(session, employee.id)
    month = score(Period.month)
    department = await session.get(Department, employee.department_id)
    on_boards = not employee.excluded and employee.status == EmployeeStatus.active
    badges = (
        await session.exec(
            select(LedgerTransaction.badge)
            .where(
                LedgerTransaction.employee_id == employee.id,
                col(LedgerTransaction.badge).is_not(None),
                LedgerTransaction.kind == TransactionKind.award,
            )
            .distinct()
        )
    ).all()
    # A daily streak is alive while its last day is today or yesterday; weekly streaks
    # count weeks (other ordinals), so they never match these days.
    today = day_ordinal((now or utcnow()).astimezone(settings.zone))
    streak = (
        await session.exec(
            select(func.max(RuleStreak.length)).where(
                RuleStreak.employee_id == employee.id,
                col(RuleStreak.last_period).in_([today, today - 1]),
            )
        )
    ).one()
    return PersonFigures(
        available=money[AccountKind.available],
        held=money[AccountKind.held],
        today=score(Period.day),
        week=score(Period.week),
        month=month,
        all_time=score(Period.all),
        rank_company=await _rank(
            session, Period.month, keys[Period.month], month, None, settings.zone
        )
        if on_boards
        else None,
        rank_department=await _rank(
            session,
            Period.month,
            keys[Period.month],
            month,
            department.path if department else None,
            settings.zone,
        )
        if on_boards
        else None,
        badges=sorted(b for b in badges if b),
        current_streak=int(streak or 0),
    )


async def history(
    session: AsyncSession,
    employee_id: int,
    *,
    kinds: Sequence[TransactionKind] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
    count: bool = True,
) -> tuple[Sequence[LedgerTransaction], int]:
    """A person's ledger lines, newest first; each says which event and rule, or who and why.

    With ``count=False`` (home shows the latest few, no pager) the total is not counted
    and comes back as -1.
    """
    query = select(LedgerTransaction).where(LedgerTransaction.employee_id == employee_id)
    if kinds:
        query = query.where(col(LedgerTransaction.kind).in_([k.value for k in kinds]))
    if since is not None:
        query = query.where(LedgerTransaction.effective_at >= since)
    if until is not None:
        query = query.where(LedgerTransaction.effective_at < until)
    total = (
        (await session.exec(select(func.count()).select_from(query.subquery()))).one()
        if count
        else -1
    )
    rows = (
        await session.exec(
            query.order_by(
                col(LedgerTransaction.effective_at).desc(), col(LedgerTransaction.id).desc()
            )
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return rows, int(total)
