"""The ledger: double-entry, append-only, the source of truth for every point.

A :class:`LedgerTransaction` says *why* points moved (an event and rule version, an
adjustment with its author and reason, a redemption…); its :class:`LedgerEntry` rows
say *where* they moved, and always sum to zero. :class:`Account` balances and
:class:`PeriodScore` rows are caches of the entries, changed in the same database
transaction, and ``points reconcile`` proves they agree.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

# Scores are kept per period of the company calendar (re-exported for older imports).
from points.calendar import Period as Period
from points.db import AwareDateTime, utcnow


class AccountKind(enum.StrEnum):
    available = "available"  # an employee's spendable points
    held = "held"  # an employee's points held for pending redemptions
    issuance = "issuance"  # where earned points come from (goes negative)
    spent = "spent"  # points paid for fulfilled redemptions
    expired = "expired"  # points that expired


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("employee_id", "kind", name="uq_account_employee_kind"),
        # One system account per kind (NULLs never collide in the constraint above).
        Index(
            "uq_account_system_kind",
            "kind",
            unique=True,
            postgresql_where=text("employee_id IS NULL"),
            sqlite_where=text("employee_id IS NULL"),
        ),
        # The promise "no balance goes below zero", kept by the database itself.
        CheckConstraint(
            "kind NOT IN ('available', 'held') OR balance >= 0", name="ck_account_not_negative"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int | None = Field(default=None, foreign_key="employee.id")
    kind: AccountKind = Field(sa_type=String(16))
    balance: int = 0


class TransactionKind(enum.StrEnum):
    award = "award"  # an event earned points under a rule version
    reversal = "reversal"  # the source took something back
    adjustment = "adjustment"  # HR added or removed points by hand, with a reason
    backapply = "backapply"  # a new rule version applied to past events
    hold = "hold"  # a redemption's price set aside
    release = "release"  # a hold given back (declined, cancelled, expired)
    spend = "spend"  # a fulfilled redemption
    expiry = "expiry"  # points that reached their expiry date


# Kinds that count towards what a person *earned* (period scores, leaderboards).
EARNING_KINDS = frozenset(
    {
        TransactionKind.award,
        TransactionKind.reversal,
        TransactionKind.adjustment,
        TransactionKind.backapply,
    }
)


class LedgerTransaction(SQLModel, table=True):
    __tablename__ = "ledger_transaction"
    __table_args__ = (
        Index("ix_ledger_transaction_employee_effective", "employee_id", "effective_at"),
        Index("ix_ledger_transaction_event", "event_id"),
        # What the scorer reads of a person's rule history (first_time, once_per).
        Index("ix_ledger_transaction_rule_employee", "rule_id", "employee_id"),
        Index(
            "ix_ledger_transaction_once_value",
            "once_value",
            postgresql_where=text("once_value IS NOT NULL"),
            sqlite_where=text("once_value IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Unique per cause, so doing the same thing twice is a no-op:
    # award:{event}:{rule}:{version}[:{milestone level}], reversal:{txn}, hold:{redemption}, …
    key: str = Field(max_length=200, unique=True)
    kind: TransactionKind = Field(sa_type=String(16))
    employee_id: int = Field(foreign_key="employee.id")
    # The department the person was in when it happened: department figures keep it.
    department_id: int | None = Field(default=None, foreign_key="department.id")
    points: int = Field(description="the change to what the person earned or holds")
    effective_at: datetime = Field(sa_type=AwareDateTime, description="when it counts")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    event_id: int | None = Field(default=None, foreign_key="activity_event.id")
    rule_id: str | None = Field(default=None, max_length=80)
    rule_version: int | None = None
    # What the rule engine needs to rebuild a person's history from the ledger.
    cap_period_key: str | None = Field(default=None, max_length=32)
    once_value: str | None = Field(default=None, max_length=200)
    badge: str | None = Field(default=None, max_length=64)
    reverses_id: int | None = Field(default=None, foreign_key="ledger_transaction.id")
    redemption_id: int | None = None
    author: str = Field(default="system", max_length=96)
    reason: str = Field(default="", max_length=500)
    reason_en: str = Field(default="", max_length=500)


class LedgerEntry(SQLModel, table=True):
    """One leg of a transaction. Never updated, never deleted."""

    __tablename__ = "ledger_entry"

    id: int | None = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledger_transaction.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    amount: int


class PeriodScore(SQLModel, table=True):
    """Points a person earned in one period (cut in POINTS_TIMEZONE)."""

    __tablename__ = "period_score"
    __table_args__ = (
        UniqueConstraint("employee_id", "period", "period_key", name="uq_period_score"),
        Index("ix_period_score_board", "period", "period_key", "points"),
    )

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    period: Period = Field(sa_type=String(8))
    period_key: str = Field(max_length=16)
    points: int = 0


class DepartmentScore(SQLModel, table=True):
    """Points earned in one period by the people of a department (not its subtree), and
    how many of them earned: ``participants`` counts the people whose earning
    transactions carrying this department add up to more than zero in the period (a
    person who moved counts where they earned, as the points do; a reversal that takes
    someone back to zero takes them off). Written by the ledger writer with the points.
    """

    __tablename__ = "department_score"
    __table_args__ = (
        UniqueConstraint("department_id", "period", "period_key", name="uq_department_score"),
        # Department boards read one period of every department.
        Index("ix_department_score_period", "period", "period_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id")
    period: Period = Field(sa_type=String(8))
    period_key: str = Field(max_length=16)
    points: int = 0
    participants: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class RuleCapUsage(SQLModel, table=True):
    """Points a rule gave a person in one cap period: the running sum caps check.

    A cache of award and reversal transactions, written with them like the scores.
    """

    __tablename__ = "rule_cap_usage"
    __table_args__ = (
        UniqueConstraint("employee_id", "rule_id", "cap_period_key", name="uq_rule_cap_usage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    rule_id: str = Field(max_length=80)
    cap_period_key: str = Field(max_length=32)
    points: int = 0


# Transaction kinds whose points count against a rule's cap.
CAP_KINDS = frozenset({TransactionKind.award, TransactionKind.reversal})


class RuleStreak(SQLModel, table=True):
    """Streak progress per person and rule; it moves on every matching event."""

    __tablename__ = "rule_streak"
    __table_args__ = (UniqueConstraint("employee_id", "rule_id"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    rule_id: str = Field(max_length=80)
    last_period: int
    length: int


class RuleProgress(SQLModel, table=True):
    """A rule's JSON state per person (milestone counts, challenge goals).

    The engine's ``ActorHistory.progress``: it moves on every matching event.
    """

    __tablename__ = "rule_progress"

    employee_id: int = Field(foreign_key="employee.id", primary_key=True)
    rule_id: str = Field(max_length=80, primary_key=True)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RuleProgressContribution(SQLModel, table=True):
    """What one event added to a person's rule state: taken out again if it is revoked.

    ``withdrawn`` marks a share taken out (once): back-apply replays such an event as
    not counting.
    """

    __tablename__ = "rule_progress_contribution"

    event_id: int = Field(primary_key=True)
    rule_id: str = Field(max_length=80, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    delta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    withdrawn: bool = False
