"""Pilot programmes (试点): departments, a window and goals on the dashboard figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class Pilot(SQLModel, table=True):
    """HR's pilot: which departments, from when, for how long, and what counts as success.

    ``goals`` is a list of ``{"figure": key, "kind": "target"|"improve", "value": n,
    "label": text, "templates": [name, …]}``: *target* means reach the value (e.g.
    100 % online), *improve* means better than the same-length window before the start
    by n % (e.g. 30 %); ``templates`` (optional, approval figures only) counts only
    approvals of those templates (报销线上化 counts 报销 approvals alone).

    ``owner`` (a userid) gets the weekly report, with the heads of its departments.
    """

    __tablename__ = "pilot"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    department_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    start_on: date
    days: int = 30
    goals: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    note: str = Field(default="", max_length=1000)
    # A team goal rule (`team_goal`) this pilot is rewarded by: its page shows what is at stake.
    reward_rule: str | None = Field(default=None, max_length=80)
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    owner: str = Field(default="", max_length=64)


class PilotPulse(SQLModel, table=True):
    """One member's answer to a pilot's weekly pulse (每周反馈): a 1–5 score and a comment.

    One per pilot, person and ISO week: answering twice changes nothing.
    """

    __tablename__ = "pilot_pulse"
    __table_args__ = (UniqueConstraint("pilot_id", "employee_id", "week_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilot.id", index=True)
    employee_id: int = Field(foreign_key="employee.id")
    week_key: str = Field(max_length=16)
    score: int
    comment: str = Field(default="", max_length=1000)
    event_id: int | None = Field(default=None, foreign_key="activity_event.id")
    answered_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
