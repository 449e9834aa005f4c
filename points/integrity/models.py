"""Stored integrity flags: one row per person, pattern and subject, however often scanned."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class Pattern(enum.StrEnum):
    cap_streak = "cap_streak"  # at the same rule's cap on N active days running
    burst = "burst"  # a day far above the person's own usual count of one kind of event
    odd_hours = "odd_hours"  # night-time activity in hours the person never used before
    mutual_approvals = "mutual_approvals"  # two people who approve (almost) only each other


class FlagStatus(enum.StrEnum):
    open = "open"
    reviewed = "reviewed"


class IntegrityFlag(SQLModel, table=True):
    """A pattern found for a person. A re-scan updates it; it is never duplicated."""

    __tablename__ = "integrity_flag"
    __table_args__ = (
        UniqueConstraint("employee_id", "pattern", "subject", name="uq_integrity_flag"),
        Index("ix_integrity_flag_status_since", "status", "since"),
    )

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id")
    pattern: Pattern = Field(sa_type=String(24))
    # What the pattern is about: the rule (cap), the event type (burst), the partner's
    # userid (mutual approvals); empty for odd hours.
    subject: str = Field(default="", max_length=96)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The pattern's size in one number (days at the cap, the peak count, odd-hour
    # events, approvals each way): a reviewed flag reopens when it doubles.
    severity: int = 0
    since: date
    last_seen: date
    status: FlagStatus = Field(default=FlagStatus.open, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    reviewed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    reviewed_by: str = Field(default="", max_length=96)
    review_note: str = Field(default="", max_length=500)
    reviewed_severity: int | None = None
