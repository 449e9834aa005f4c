"""``points reconcile``: prove the caches agree with the entries, and the ledger balances.

Recomputes every account balance, period score and cap usage from the ledger and
compares; any difference is reported with the ids it concerns (and the command
exits 1).

It must run on a live system with ten million entries, so nothing is held whole:

- sums the database can make alone (the ledger's total, unbalanced transactions,
  account balances against their entries) are aggregated there and only the
  differences come back;
- people are walked in chunks of ids: one chunk's transactions are streamed and
  summed per person and local day, rolled up to weeks, months, quarters, years and
  all time, compared with that chunk's stored scores and cap usage, then dropped;
- department figures are summed per department and local day as the chunks pass
  (bounded by departments × days, not by entries) and compared at the end; so are
  the departments' participants (people on the roll of a period whose transactions
  there add up to more than zero in it), counted per chunk and added up per
  department and period.

On PostgreSQL everything is read in one REPEATABLE READ, READ ONLY transaction: a
consistent snapshot while scoring goes on, taking no lock a writer waits for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import select as select_columns
from sqlalchemy import text
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import keys_of_day
from points.db import is_postgres
from points.ledger import reconcile_pg
from points.ledger.models import (
    CAP_KINDS,
    EARNING_KINDS,
    Account,
    DepartmentScore,
    LedgerEntry,
    LedgerTransaction,
    PeriodScore,
    RuleCapUsage,
)
from points.ledger.participation import on_roll_of
from points.org.models import Employee, EmployeeStatus, Roll

# People per chunk. In Python (SQLite) each person is about a hundred score rows, so
# a few megabytes per chunk. In PostgreSQL nothing comes back but differences, and a
# chunk's transactions are spread over the whole (time-ordered) table, so fewer,
# larger chunks read it fewer times.
CHUNK = 2_000
CHUNK_IN_DATABASE = 25_000

# (step, done, total): called as the walk moves on, for a progress line.
Progress = Callable[[str, int, int], None]

ScoreKey = tuple[int, str, str]


@dataclass
class ReconcileReport:
    accounts: int = 0
    transactions: int = 0
    period_scores: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


class _Problems:
    """The first ``limit`` differences, then one line saying there were more."""

    def __init__(self, report: ReconcileReport, limit: int) -> None:
        self.report, self.limit = report, limit

    def add(self, text_: str) -> None:
        problems = self.report.problems
        if len(problems) < self.limit:
            problems.append(text_)
        elif len(problems) == self.limit:
            problems.append("… more differences not listed")


async def reconcile(
    session: AsyncSession,
    zone: tzinfo,
    limit: int = 50,
    *,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> ReconcileReport:
    report = ReconcileReport()
    problems = _Problems(report, limit)
    if is_postgres(session) and not session.in_transaction():
        # Must be the transaction's first statement; a caller already inside one
        # (tests, after writing) reconciles what its own transaction sees.
        await session.exec(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))  # type: ignore[call-overload]
        # A chunk's day sums hash a million rows: room to do it without spilling.
        await session.exec(text("SET LOCAL work_mem = '64MB'"))  # type: ignore[call-overload]
    await _check_entries(session, report, problems, limit)
    people_total = int((await session.exec(select(func.count()).select_from(Employee))).one())
    department_days: dict[tuple[int, date], int] = defaultdict(int)
    participants: dict[ScoreKey, int] = defaultdict(int)
    # PostgreSQL cuts local days itself; SQLite has no time zones, so Python does.
    zone_name = getattr(zone, "key", None) if is_postgres(session) else None
    if chunk is None:
        chunk = CHUNK_IN_DATABASE if zone_name is not None else CHUNK
    done = 0
    after = 0
    while True:
        ids = (
            await session.exec(
                select(Employee.id)
                .where(col(Employee.id) > after)
                .order_by(col(Employee.id))
                .limit(chunk)
            )
        ).all()
        if not ids:
            break
        first, last = int(ids[0] or 0), int(ids[-1] or 0)
        if zone_name is not None:
            for owner, period, key, have, want in await reconcile_pg.people_differences(
                session, zone_name, first, last, limit + 1
            ):
                problems.add(f"employee {owner} {period} {key}: score {have}, entries say {want}")
            for department, period, key, count in await reconcile_pg.participants(
                session, zone_name, first, last
            ):
                participants[(department, period, key)] += count
        else:
            await _check_people(session, zone, first, last, department_days, participants, problems)
        await _check_caps(session, first, last, problems)
        after = last
        done += len(ids)
        if progress is not None:
            progress("people", done, people_total)
    if zone_name is not None:
        for owner, period, key, have, want in await reconcile_pg.department_differences(
            session, zone_name, limit + 1
        ):
            problems.add(f"department {owner} {period} {key}: score {have}, entries say {want}")
    else:
        await _check_departments(session, zone, department_days, problems)
    await _check_participants(session, participants, problems)
    for table in (PeriodScore, DepartmentScore):
        report.period_scores += int(
            (await session.exec(select(func.count()).select_from(table))).one()
        )
    return report


async def _check_entries(
    session: AsyncSession, report: ReconcileReport, problems: _Problems, limit: int
) -> None:
    """The ledger sums to zero, every transaction balances, every balance is its entries."""
    total = (await session.exec(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))).one()
    if total != 0:
        problems.add(f"the ledger does not sum to zero: {total}")
    report.transactions = int(
        (await session.exec(select(func.count()).select_from(LedgerTransaction))).one()
    )
    unbalanced = await session.exec(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
        .group_by(col(LedgerEntry.transaction_id))
        .having(func.sum(LedgerEntry.amount) != 0)
        .order_by(col(LedgerEntry.transaction_id))
        .limit(limit + 1)
    )
    for transaction_id, amount in unbalanced.all():
        problems.add(f"transaction {transaction_id} is unbalanced by {amount}")
    report.accounts = int((await session.exec(select(func.count()).select_from(Account))).one())
    sums = (
        select_columns(
            col(LedgerEntry.account_id).label("account_id"),
            func.sum(LedgerEntry.amount).label("total"),
        )
        .group_by(col(LedgerEntry.account_id))
        .subquery()
    )
    expected = func.coalesce(sums.c.total, 0)
    differing = await session.exec(
        select_columns(
            col(Account.id),
            col(Account.kind),
            col(Account.employee_id),
            col(Account.balance),
            expected,
        )
        .outerjoin(sums, sums.c.account_id == col(Account.id))
        .where(col(Account.balance) != expected)
        .order_by(col(Account.id))
        .limit(limit + 1)
    )  # type: ignore[call-overload]
    for account_id, kind, employee_id, balance, want in differing.all():
        problems.add(
            f"account {account_id} ({kind}, employee {employee_id}): "
            f"balance {balance}, entries say {int(want)}"
        )


async def _check_people(
    session: AsyncSession,
    zone: tzinfo,
    first: int,
    last: int,
    department_days: dict[tuple[int, date], int],
    participants: dict[ScoreKey, int],
    problems: _Problems,
) -> None:
    """One chunk of people: their scores against their transactions (in Python)."""
    in_chunk = col(LedgerTransaction.employee_id).between(first, last)
    days: dict[tuple[int, date], int] = defaultdict(int)
    member_days: dict[tuple[int, int, date], int] = defaultdict(int)
    connection = await session.connection()
    rows = await connection.stream(
        select_columns(
            col(LedgerTransaction.employee_id),
            col(LedgerTransaction.department_id),
            col(LedgerTransaction.points),
            col(LedgerTransaction.effective_at),
        ).where(
            in_chunk,
            col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]),
            col(LedgerTransaction.points) != 0,
        ),
    )
    # Row by row through the async layer costs a context switch each: take partitions.
    async for partition in rows.partitions(10_000):
        for employee_id, department_id, points, effective_at in partition:
            day = _local_day(effective_at, zone)
            days[(employee_id, day)] += points
            if department_id is not None:
                department_days[(department_id, day)] += points
                member_days[(employee_id, department_id, day)] += points
    stored = await connection.execute(
        select_columns(
            col(PeriodScore.employee_id),
            col(PeriodScore.period),
            col(PeriodScore.period_key),
            col(PeriodScore.points),
        ).where(col(PeriodScore.employee_id).between(first, last))
    )
    have = {(e, str(p), k): v for e, p, k, v in stored.all()}
    _compare("employee", have, _roll_up(days.items(), zone), problems)
    earned: dict[tuple[int, int, str, str], int] = defaultdict(int)
    for (employee_id, department_id, day), points in member_days.items():
        for period, key in keys_of_day(day):
            earned[(employee_id, department_id, period.value, key)] += points
    rolls = {
        int(e or 0): Roll(bool(x), EmployeeStatus(s), left_on)
        for e, x, s, left_on in (
            await connection.execute(
                select_columns(
                    col(Employee.id),
                    col(Employee.excluded),
                    col(Employee.status),
                    col(Employee.left_on),
                ).where(col(Employee.id).between(first, last))
            )
        ).all()
    }
    for (employee_id, department_id, period_name, key), points in earned.items():
        roll = rolls.get(employee_id)
        if points > 0 and roll is not None and on_roll_of(roll, period_name, key):
            participants[(department_id, period_name, key)] += 1


async def _check_caps(session: AsyncSession, first: int, last: int, problems: _Problems) -> None:
    """Cap usage of people ``first``..``last`` against their award and reversal sums."""
    in_chunk = col(LedgerTransaction.employee_id).between(first, last)
    caps = await session.exec(
        select(
            LedgerTransaction.employee_id,
            LedgerTransaction.rule_id,
            LedgerTransaction.cap_period_key,
            func.sum(LedgerTransaction.points),
        )
        .where(
            in_chunk,
            col(LedgerTransaction.kind).in_([k.value for k in CAP_KINDS]),
            col(LedgerTransaction.rule_id).is_not(None),
            col(LedgerTransaction.cap_period_key).is_not(None),
            col(LedgerTransaction.rule_id) != "",
            col(LedgerTransaction.cap_period_key) != "",
        )
        .group_by(
            col(LedgerTransaction.employee_id),
            col(LedgerTransaction.rule_id),
            col(LedgerTransaction.cap_period_key),
        )
    )
    want_caps = {(e, r or "", k or ""): int(v) for e, r, k, v in caps.all()}
    usage = await session.exec(
        select(
            RuleCapUsage.employee_id,
            RuleCapUsage.rule_id,
            RuleCapUsage.cap_period_key,
            RuleCapUsage.points,
        ).where(col(RuleCapUsage.employee_id).between(first, last))
    )
    have_caps = {(e, r, k): v for e, r, k, v in usage.all()}
    for cap_key in sorted(set(have_caps) | set(want_caps)):
        stored_usage, expected_usage = have_caps.get(cap_key, 0), want_caps.get(cap_key, 0)
        if stored_usage != expected_usage:
            problems.add(
                f"employee {cap_key[0]} rule {cap_key[1]} cap {cap_key[2]}: "
                f"usage {stored_usage}, entries say {expected_usage}"
            )


async def _check_departments(
    session: AsyncSession,
    zone: tzinfo,
    department_days: dict[tuple[int, date], int],
    problems: _Problems,
) -> None:
    stored = await (await session.connection()).execute(
        select_columns(
            col(DepartmentScore.department_id),
            col(DepartmentScore.period),
            col(DepartmentScore.period_key),
            col(DepartmentScore.points),
        )
    )
    have = {(d, str(p), k): v for d, p, k, v in stored.all()}
    _compare("department", have, _roll_up(department_days.items(), zone), problems)


async def _check_participants(
    session: AsyncSession, want: dict[ScoreKey, int], problems: _Problems
) -> None:
    """Each department's stored participants against the people the entries say earned."""
    stored = await (await session.connection()).execute(
        select_columns(
            col(DepartmentScore.department_id),
            col(DepartmentScore.period),
            col(DepartmentScore.period_key),
            col(DepartmentScore.participants),
        ).where(col(DepartmentScore.participants) != 0)
    )
    have = {(d, str(p), k): v for d, p, k, v in stored.all()}
    for score_key in sorted(set(have) | {k for k, v in want.items() if v}):
        stored_count, expected = have.get(score_key, 0), want.get(score_key, 0)
        if stored_count != expected:
            owner_id, period_name, period_key = score_key
            problems.add(
                f"department {owner_id} {period_name} {period_key}: participants "
                f"{stored_count}, entries say {expected}"
            )


def _local_day(moment: datetime, zone: tzinfo) -> date:
    if moment.tzinfo is None:  # SQLite hands back the UTC it stored, without a zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def _roll_up(days: Iterable[tuple[tuple[int, date], int]], zone: tzinfo) -> dict[ScoreKey, int]:
    """Per owner and local day → every period that day falls in."""
    scores: dict[ScoreKey, int] = defaultdict(int)
    for (owner, day), points in days:
        for period, key in keys_of_day(day):
            scores[(owner, period.value, key)] += points
    return scores


def _compare(
    owner: str, have: dict[ScoreKey, int], want: dict[ScoreKey, int], problems: _Problems
) -> None:
    differing = [k for k, v in have.items() if want.get(k, 0) != v]
    differing += [k for k, v in want.items() if v and k not in have]
    for score_key in sorted(differing):
        stored, expected = have.get(score_key, 0), want.get(score_key, 0)
        if stored != expected:
            owner_id, period_name, period_key = score_key
            problems.add(
                f"{owner} {owner_id} {period_name} {period_key}: score {stored}, "
                f"entries say {expected}"
            )
