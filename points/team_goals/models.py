"""The settled result of one team goal window for one department: written once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class TeamGoalResult(SQLModel, table=True):
    """A team goal's window, settled for one of its departments.

    Unique per (rule, window start, department): the first settlement after the window
    closed is final, so running the job again never pays twice (the ledger keys
    ``team_goal:{rule}:{from}:{employee}`` say the same for each payout).
    """

    __tablename__ = "team_goal_result"
    __table_args__ = (
        UniqueConstraint("rule_id", "window_from", "department_id", name="uq_team_goal_result"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(max_length=80)
    rule_version: int
    window_from: date
    window_days: int
    department_id: int = Field(foreign_key="department.id")
    measure: str = Field(max_length=16)
    target: float
    value: float
    met: bool
    members: int  # belonged at some moment of the window
    events: int  # matching events inside the window
    eligible: int  # belonged for the whole window (and still here, not excluded)
    awarded: int  # people paid
    points: int  # each
    settled_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
