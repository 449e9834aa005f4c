"""Every table, imported in one place so Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

from points.audit.models import AuditEntry
from points.auth.models import ApiToken
from points.events.models import ActivityEvent, EventConflict
from points.ledger.models import (
    Account,
    DepartmentScore,
    LedgerEntry,
    LedgerTransaction,
    PeriodScore,
    RuleStreak,
)
from points.org.models import Department, Employee, RoleAssignment
from points.rulesets.models import RuleVersion

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "ActivityEvent",
    "ApiToken",
    "AuditEntry",
    "Department",
    "DepartmentScore",
    "Employee",
    "EventConflict",
    "LedgerEntry",
    "LedgerTransaction",
    "PeriodScore",
    "RoleAssignment",
    "RuleStreak",
    "RuleVersion",
    "metadata",
]
