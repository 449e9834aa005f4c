"""Posting to the ledger, and the figures that are caches of it.

Everything that moves points goes through :func:`post`: it writes transactions
(unique by key, so a repeat is a no-op), their balanced entries, the account
balances and the period scores, in the caller's database transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Insert, bindparam, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import keys_at
from points.db import utcnow
from points.ledger import bulk_pg
from points.ledger.models import (
    CAP_KINDS,
    EARNING_KINDS,
    Account,
    AccountKind,
    DepartmentScore,
    LedgerEntry,
    LedgerTransaction,
    Period,
    PeriodScore,
    RuleCapUsage,
    TransactionKind,
)

SYSTEM_KINDS = (AccountKind.issuance, AccountKind.spent, AccountKind.expired)

# (employee id or None for a system account, kind)
AccountRef = tuple[int | None, AccountKind]


def is_postgres(session: AsyncSession) -> bool:
    """PostgreSQL (row locks, bulk arrays) rather than the embedded SQLite."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def insert_for(session: AsyncSession, model: type[SQLModel]) -> Any:
    """The dialect's INSERT (for ON CONFLICT), PostgreSQL or SQLite."""
    if is_postgres(session):
        return postgresql.insert(model)
    return sqlite.insert(model)


@dataclass
class Posting:
    """One transaction to write: why (the fields) and where (``legs``, summing to zero)."""

    key: str
    kind: TransactionKind
    employee_id: int
    points: int
    effective_at: datetime
    legs: list[tuple[AccountRef, int]]
    department_id: int | None = None
    event_id: int | None = None
    rule_id: str | None = None
    rule_version: int | None = None
    cap_period_key: str | None = None
    once_value: str | None = None
    badge: str | None = None
    reverses_id: int | None = None
    redemption_id: int | None = None
    author: str = "system"
    reason: str = ""
    reason_en: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if sum(amount for _ref, amount in self.legs) != 0:
            raise ValueError(f"unbalanced transaction {self.key}")

    def transaction_row(self, created_at: datetime) -> dict[str, Any]:
        """The ``ledger_transaction`` row of this posting, by column."""
        return {
            "key": self.key,
            "kind": self.kind.value,
            "employee_id": self.employee_id,
            "department_id": self.department_id,
            "points": self.points,
            "effective_at": self.effective_at,
            "created_at": created_at,
            "event_id": self.event_id,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "cap_period_key": self.cap_period_key,
            "once_value": self.once_value,
            "badge": self.badge,
            "reverses_id": self.reverses_id,
            "redemption_id": self.redemption_id,
            "author": self.author,
            "reason": self.reason[:500],
            "reason_en": self.reason_en[:500],
        }


def earning_legs(employee_id: int, points: int) -> list[tuple[AccountRef, int]]:
    """Points earned (or taken back, when negative): issuance ↔ the person's available."""
    return [((None, AccountKind.issuance), -points), ((employee_id, AccountKind.available), points)]


def moving_legs(
    employee_id: int | None,
    source: AccountKind,
    target: AccountKind,
    points: int,
    target_employee: int | None = None,
) -> list[tuple[AccountRef, int]]:
    return [((employee_id, source), -points), ((target_employee, target), points)]


# Account ids known to a session, by reference. Accounts are never deleted, so the
# ids stay true until a rollback (which may undo accounts created in it).
_KNOWN = "ledger_account_ids"


@event.listens_for(Session, "after_soft_rollback")
def _forget_accounts(session: Session, _previous: Any) -> None:
    session.info.pop(_KNOWN, None)


async def account_ids(session: AsyncSession, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """Ids of the accounts, creating the people's accounts that do not exist yet."""
    wanted = set(refs)
    known: dict[AccountRef, int] = session.info.setdefault(_KNOWN, {})
    unknown = wanted - known.keys()
    if not unknown:
        return {ref: known[ref] for ref in wanted}
    people = sorted({(e, k) for e, k in unknown if e is not None})
    employee_ids = sorted({e for e, _k in people if e is not None})
    found = await _people_accounts(session, employee_ids)
    missing = [ref for ref in people if ref not in found]
    if missing:
        stmt = insert_for(session, Account).on_conflict_do_nothing(
            index_elements=["employee_id", "kind"]
        )
        connection = await session.connection()
        await connection.execute(
            stmt, [{"employee_id": e, "kind": k.value, "balance": 0} for e, k in missing]
        )
        found = await _people_accounts(session, employee_ids)
    if any(e is None for e, _k in unknown):
        found.update(await system_accounts(session))
    known.update(found)
    return {ref: known[ref] for ref in wanted}


async def _people_accounts(
    session: AsyncSession, employee_ids: Sequence[int]
) -> dict[AccountRef, int]:
    found: dict[AccountRef, int] = {}
    if employee_ids:
        rows = await session.exec(
            select(Account.id, Account.employee_id, Account.kind).where(
                col(Account.employee_id).in_(employee_ids)
            )
        )
        for account_id, employee_id, kind in rows.all():
            found[(employee_id, AccountKind(kind))] = account_id  # type: ignore[assignment]
    return found


async def system_accounts(session: AsyncSession) -> dict[AccountRef, int]:
    """The issuance, spent and expired accounts, created on first use."""
    stmt = insert_for(session, Account).values(
        [{"employee_id": None, "kind": kind.value, "balance": 0} for kind in SYSTEM_KINDS]
    )
    await session.exec(
        stmt.on_conflict_do_nothing(
            index_elements=["kind"], index_where=col(Account.employee_id).is_(None)
        )
    )
    rows = await session.exec(
        select(Account.id, Account.kind).where(col(Account.employee_id).is_(None))
    )
    return {(None, AccountKind(kind)): account_id for account_id, kind in rows.all()}  # type: ignore[misc]


async def lock_people(session: AsyncSession, employee_ids: Iterable[int]) -> None:
    """Serialise work on these people's points until commit (PostgreSQL row locks).

    Locks are taken in id order so two workers can never deadlock on each other.
    SQLite has one writer at a time anyway.
    """
    ids = sorted(set(employee_ids))
    if not ids:
        return
    await account_ids(session, [(e, AccountKind.available) for e in ids])
    await session.exec(
        select(Account.id)
        .where(col(Account.employee_id).in_(ids), Account.kind == AccountKind.available)
        .order_by(col(Account.id))
        .with_for_update()
    )


async def post(session: AsyncSession, postings: Sequence[Posting], zone: tzinfo) -> list[int]:
    """Write the postings not written before; return the new transactions' ids.

    A posting whose key exists is skipped entirely: no entries, no balance change.
    """
    if not postings:
        return []
    by_key = {p.key: p for p in postings}
    if len(by_key) != len(postings):
        raise ValueError("two postings share a key")
    ids = await account_ids(session, (ref for p in postings for ref, _a in p.legs))
    now = utcnow()
    rows = [p.transaction_row(now) for p in postings]
    if is_postgres(session):
        inserted = await bulk_pg.insert_transactions(session, rows)
    else:
        inserted = await _insert_transactions(session, rows)
    if not inserted:
        return []
    entries: list[tuple[int, int, int]] = []
    deltas: dict[int, int] = defaultdict(int)
    people: dict[tuple[int, Period, str], int] = defaultdict(int)
    departments: dict[tuple[int, Period, str], int] = defaultdict(int)
    caps: dict[tuple[int, str, str], int] = defaultdict(int)
    for transaction_id, key in inserted:
        posting = by_key[key]
        for ref, amount in posting.legs:
            account_id = ids[ref]
            entries.append((transaction_id, account_id, amount))
            deltas[account_id] += amount
        if posting.kind in CAP_KINDS and posting.rule_id and posting.cap_period_key:
            caps[(posting.employee_id, posting.rule_id, posting.cap_period_key)] += posting.points
        if posting.kind in EARNING_KINDS and posting.points:
            for period, pkey in keys_at(posting.effective_at, zone):
                people[(posting.employee_id, period, pkey)] += posting.points
                if posting.department_id is not None:
                    departments[(posting.department_id, period, pkey)] += posting.points
    changes = [(a, d) for a, d in sorted(deltas.items()) if d]
    if is_postgres(session):
        await bulk_pg.insert_entries(session, entries)
        if changes:
            await bulk_pg.apply_balances(session, changes)
        for table, owner, scores in (
            ("period_score", "employee_id", people),
            ("department_score", "department_id", departments),
        ):
            values = [(o, p.value, k, v) for (o, p, k), v in sorted(scores.items()) if v]
            if values:
                await bulk_pg.add_scores(session, table, owner, values)
        if caps:
            await bulk_pg.add_cap_usage(
                session, [(e, r, k, v) for (e, r, k), v in sorted(caps.items())]
            )
    else:
        connection = await session.connection()
        await connection.execute(
            insert_for(session, LedgerEntry),
            [{"transaction_id": t, "account_id": a, "amount": m} for t, a, m in entries],
        )
        await _apply_balances(session, dict(changes))
        await _add_scores(session, PeriodScore, "employee_id", people)
        await _add_scores(session, DepartmentScore, "department_id", departments)
        await _add_cap_usage(session, caps)
    return [transaction_id for transaction_id, _key in inserted]


async def _insert_transactions(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[tuple[int, str]]:
    """The portable path: the new transactions' (id, key); known keys are skipped."""
    stmt: Insert = insert_for(session, LedgerTransaction)
    stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(  # type: ignore[attr-defined]
        col(LedgerTransaction.id), col(LedgerTransaction.key)
    )
    # Executemany, not one giant VALUES: the statement is compiled once and cached,
    # and SQLAlchemy batches the rows itself (insertmanyvalues).
    connection = await session.connection()
    return [(i, k) for i, k in (await connection.execute(stmt, rows)).all()]


async def _add_cap_usage(session: AsyncSession, caps: dict[tuple[int, str, str], int]) -> None:
    if not caps:
        return
    stmt = insert_for(session, RuleCapUsage)
    stmt = stmt.on_conflict_do_update(
        index_elements=["employee_id", "rule_id", "cap_period_key"],
        set_={"points": RuleCapUsage.points + stmt.excluded.points},
    )
    connection = await session.connection()
    await connection.execute(
        stmt,
        [
            {"employee_id": e, "rule_id": r, "cap_period_key": k, "points": v}
            for (e, r, k), v in sorted(caps.items())
        ],
    )


async def _apply_balances(session: AsyncSession, deltas: dict[int, int]) -> None:
    changes = [{"account": a, "delta": d} for a, d in sorted(deltas.items()) if d]
    if not changes:
        return
    table = Account.__table__  # type: ignore[attr-defined]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("account"))
        .values(balance=table.c.balance + bindparam("delta"))
    )
    connection = await session.connection()
    await connection.execute(stmt, changes)


async def _add_scores(
    session: AsyncSession,
    model: type[PeriodScore] | type[DepartmentScore],
    owner: str,
    scores: dict[tuple[int, Period, str], int],
) -> None:
    if not scores:
        return
    # Sorted, so concurrent writers take row locks in the same order.
    values = [
        {owner: o, "period": p.value, "period_key": k, "points": v}
        for (o, p, k), v in sorted(scores.items())
        if v
    ]
    if not values:
        return
    stmt = insert_for(session, model)
    stmt = stmt.on_conflict_do_update(
        index_elements=[owner, "period", "period_key"],
        set_={"points": model.points + stmt.excluded.points},
    )
    connection = await session.connection()
    await connection.execute(stmt, values)  # executemany: compiled once, rows in order


async def balances(session: AsyncSession, employee_id: int) -> dict[AccountKind, int]:
    rows = await session.exec(
        select(Account.kind, Account.balance).where(Account.employee_id == employee_id)
    )
    found = {AccountKind(kind): balance for kind, balance in rows.all()}
    return {kind: found.get(kind, 0) for kind in (AccountKind.available, AccountKind.held)}
