"""An appeal and its outcome. The answer to an upheld appeal is a linked adjustment."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class AppealStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"  # upheld: answered with an adjustment
    rejected = "rejected"


class Appeal(SQLModel, table=True):
    __tablename__ = "appeal"
    __table_args__ = (Index("ix_appeal_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    # The person's department when they filed: their head sees it, as with points.
    department_id: int = Field(foreign_key="department.id", index=True)
    # "This line is wrong" (a ledger transaction), or "I did X on day Y and got nothing".
    entry_id: int | None = Field(default=None, foreign_key="ledger_transaction.id")
    occurred_on: date | None = None
    message: str = Field(max_length=1000)
    status: AppealStatus = Field(default=AppealStatus.open, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    decided_by: str = Field(default="", max_length=96)
    decision_reason: str = Field(default="", max_length=500)
    points: int | None = None
    # The adjustment that answered it (resolved appeals only).
    transaction_id: int | None = Field(default=None, foreign_key="ledger_transaction.id")
