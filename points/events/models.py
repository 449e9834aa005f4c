"""Stored activity events, and the conflicts intake refused to overwrite."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class EventStatus(enum.StrEnum):
    pending = "pending"  # stored, waiting for the scoring job
    scored = "scored"
    unmatched = "unmatched"  # the actor is not (yet) an employee: scored when they appear
    parked = "parked"  # kept failing; an admin can retry it


class ActivityEvent(SQLModel, table=True):
    """One normalized event, stored once per ``(source, external_id)``."""

    __tablename__ = "activity_event"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_activity_event_source_external_id"),
        Index("ix_activity_event_status", "status"),
        Index("ix_activity_event_actor_occurred", "actor", "occurred_at"),
        # The integrity scan reads a bounded window of everyone's events by time.
        Index("ix_activity_event_occurred", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Where the event comes from (wecom, api, import, demo): callbacks and pull
    # connectors share "wecom", so a lost callback found by a pull is the same row.
    source: str = Field(max_length=32)
    external_id: str = Field(max_length=200)
    type: str = Field(max_length=80, index=True)
    actor: str = Field(max_length=64)
    employee_id: int | None = Field(default=None, foreign_key="employee.id", index=True)
    occurred_at: datetime = Field(sa_type=AwareDateTime)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    payload_hash: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    status: EventStatus = Field(default=EventStatus.pending, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    scored_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    # Who handed it in through the API or an import (token:NAME, a userid, import:FILE);
    # None for WeCom, which speaks for itself.
    submitted_by: str | None = Field(default=None, max_length=96)


class EventConflict(SQLModel, table=True):
    """A replay that carried a different payload: kept for admins, never applied."""

    __tablename__ = "event_conflict"
    __table_args__ = (UniqueConstraint("event_id", "payload_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="activity_event.id", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    payload_hash: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    times_seen: int = 1
