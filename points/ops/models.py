"""Runs of the periodic jobs. A run claims its slot, so two processes never both run it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    __table_args__ = (
        # The database lock: one row per job and scheduled minute; whoever inserts it runs.
        UniqueConstraint("job", "slot", name="uq_job_run_slot"),
        Index("ix_job_run_job_started", "job", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    # The scheduled minute (2026-11-27T00:40) or manual:<random> for a run by hand.
    slot: str = Field(max_length=48)
    trigger: str = Field(default="schedule", max_length=16, description="schedule|cli|admin")
    runner: str = Field(default="", max_length=96, description="host:pid, or who ran it")
    started_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    status: str = Field(default="running", max_length=16, description="running|ok|failed")
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=500)
