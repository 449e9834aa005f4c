"""An award waiting for a reviewer: not in the ledger until it is accepted."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class ReviewStatus(enum.StrEnum):
    pending = "pending"  # waits; holds its place in caps and once_per
    accepted = "accepted"  # posted to the ledger (``transaction_id``)
    rejected = "rejected"  # a reviewer said no, with a reason
    expired = "expired"  # nobody decided in time: rejected with that reason
    withdrawn = "withdrawn"  # the source took the event back before anyone decided


class PendingAward(SQLModel, table=True):
    """One award of a reviewed rule: everything the ledger line will say, kept until
    a reviewer decides. ``key`` is the award's ledger key, so scoring the event again
    adds nothing and accepting posts exactly that award once."""

    __tablename__ = "pending_award"
    __table_args__ = (
        Index("ix_pending_award_status_expires", "status", "expires_at"),
        Index("ix_pending_award_employee_status", "employee_id", "status"),
        Index("ix_pending_award_event", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    employee_id: int = Field(foreign_key="employee.id")
    # Where the person was when they earned it: the department figures keep it.
    department_id: int | None = Field(default=None, foreign_key="department.id")
    event_id: int = Field(foreign_key="activity_event.id")
    rule_id: str = Field(max_length=80)
    rule_version: int
    points: int
    effective_at: datetime = Field(sa_type=AwareDateTime)
    cap_period_key: str | None = Field(default=None, max_length=32)
    once_value: str | None = Field(default=None, max_length=200)
    badge: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=500)
    reason_en: str = Field(default="", max_length=500)
    reviewer: str = Field(max_length=8, description="hr or head")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    expires_at: datetime = Field(sa_type=AwareDateTime)
    status: ReviewStatus = Field(default=ReviewStatus.pending, sa_type=String(16))
    decided_by: str | None = Field(default=None, max_length=96)
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    decision_reason: str = Field(default="", max_length=500)
    transaction_id: int | None = Field(default=None, foreign_key="ledger_transaction.id")
