"""The ledger's vocabulary: postings, their legs, accounts, locks and balances.

A :class:`Posting` says what one transaction moves; :func:`points.ledger.writer.post`
writes it (the only code that writes ledger rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for
from points.ledger.models import (
    Account,
    AccountKind,
    TransactionKind,
)

SYSTEM_KINDS = (AccountKind.issuance, AccountKind.spent, AccountKind.expired)

# (employee id or None for a system account, kind)
AccountRef = tuple[int | None, AccountKind]


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


def earning(
    key: str,
    kind: TransactionKind,
    employee_id: int,
    department_id: int | None,
    points: int,
    effective_at: datetime,
    **details: Any,
) -> Posting:
    """A posting of points earned (or taken back) by a person, counted for the department
    they earned them in; ``details`` are the other :class:`Posting` fields."""
    legs = earning_legs(employee_id, points)
    return Posting(key, kind, employee_id, points, effective_at, legs, department_id, **details)


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


async def balances(session: AsyncSession, employee_id: int) -> dict[AccountKind, int]:
    rows = await session.exec(
        select(Account.kind, Account.balance).where(Account.employee_id == employee_id)
    )
    found = {AccountKind(kind): balance for kind, balance in rows.all()}
    return {kind: found.get(kind, 0) for kind in (AccountKind.available, AccountKind.held)}
