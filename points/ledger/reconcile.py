"""``points reconcile``: prove the caches agree with the entries, and the ledger balances.

Recomputes every account balance and every period score from the ledger and
compares; any difference is reported (and the command exits 1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import tzinfo

from sqlalchemy import select as select_columns
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
from points.ledger.service import period_keys


@dataclass
class ReconcileReport:
    accounts: int = 0
    transactions: int = 0
    period_scores: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


async def reconcile(session: AsyncSession, zone: tzinfo, limit: int = 50) -> ReconcileReport:
    report = ReconcileReport()

    def problem(text: str) -> None:
        if len(report.problems) < limit:
            report.problems.append(text)
        elif len(report.problems) == limit:
            report.problems.append("… more differences not listed")

    total = (await session.exec(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))).one()
    if total != 0:
        problem(f"the ledger does not sum to zero: {total}")
    unbalanced = (
        await session.exec(
            select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
            .group_by(col(LedgerEntry.transaction_id))
            .having(func.sum(LedgerEntry.amount) != 0)
        )
    ).all()
    for transaction_id, amount in unbalanced:
        problem(f"transaction {transaction_id} is unbalanced by {amount}")
    sums = dict(
        (
            await session.exec(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(
                    col(LedgerEntry.account_id)
                )
            )
        ).all()
    )
    for account in (await session.exec(select(Account))).all():
        report.accounts += 1
        expected = int(sums.get(account.id or 0, 0) or 0)
        if account.balance != expected:
            problem(
                f"account {account.id} ({account.kind}, employee {account.employee_id}): "
                f"balance {account.balance}, entries say {expected}"
            )
    people: dict[tuple[int, str, str], int] = defaultdict(int)
    departments: dict[tuple[int, str, str], int] = defaultdict(int)
    connection = await session.connection()
    rows = await connection.execute(
        select_columns(
            col(LedgerTransaction.employee_id),
            col(LedgerTransaction.department_id),
            col(LedgerTransaction.points),
            col(LedgerTransaction.effective_at),
            col(LedgerTransaction.kind),
            col(LedgerTransaction.rule_id),
            col(LedgerTransaction.cap_period_key),
        )
    )
    caps: dict[tuple[int, str, str], int] = defaultdict(int)
    for employee_id, department_id, points, effective_at, kind, rule_id, cap_period in rows.all():
        report.transactions += 1
        if kind in CAP_KINDS and rule_id and cap_period:
            caps[(employee_id, rule_id, cap_period)] += points
        if kind not in EARNING_KINDS or not points:
            continue
        for period, key in period_keys(effective_at, zone):
            people[(employee_id, period.value, key)] += points
            if department_id is not None:
                departments[(department_id, period.value, key)] += points
    stored_people = {
        (row.employee_id, str(row.period), row.period_key): row.points
        for row in (await session.exec(select(PeriodScore))).all()
    }
    stored_departments = {
        (row.department_id, str(row.period), row.period_key): row.points
        for row in (await session.exec(select(DepartmentScore))).all()
    }
    stored_caps = {
        (row.employee_id, row.rule_id, row.cap_period_key): row.points
        for row in (await session.exec(select(RuleCapUsage))).all()
    }
    for cap_key in sorted(set(stored_caps) | set(caps)):
        have, want = stored_caps.get(cap_key, 0), caps.get(cap_key, 0)
        if have != want:
            problem(
                f"employee {cap_key[0]} rule {cap_key[1]} cap {cap_key[2]}: "
                f"usage {have}, entries say {want}"
            )
    for owner, stored, expected_scores in (
        ("employee", stored_people, people),
        ("department", stored_departments, departments),
    ):
        report.period_scores += len(stored)
        for score_key in sorted(set(stored) | set(expected_scores)):
            have, want = stored.get(score_key, 0), expected_scores.get(score_key, 0)
            if have != want:
                owner_id, period_name, period_key = score_key
                problem(
                    f"{owner} {owner_id} {period_name} {period_key}: score {have}, "
                    f"entries say {want}"
                )
    return report
