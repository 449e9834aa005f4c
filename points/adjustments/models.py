"""An adjustment above the threshold, waiting for a second HR/admin person."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class PendingStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class PendingAdjustment(SQLModel, table=True):
    __tablename__ = "pending_adjustment"
    __table_args__ = (
        UniqueConstraint("request_key", name="uq_pending_adjustment_request_key"),
        Index("ix_pending_adjustment_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    points: int
    reason: str = Field(max_length=500)
    requested_by: str = Field(max_length=96)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    request_key: str = Field(max_length=100)
    status: PendingStatus = Field(default=PendingStatus.pending, sa_type=String(16))
    decided_by: str | None = Field(default=None, max_length=96)
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
