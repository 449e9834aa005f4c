"""Pilot programmes (试点): departments, a window and goals on the dashboard figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class Pilot(SQLModel, table=True):
    """HR's pilot: which departments, from when, for how long, and what counts as success.

    ``goals`` is a list of ``{"figure": key, "kind": "target"|"improve", "value": n,
    "label": text}``: *target* means reach the value (e.g. 100 % online), *improve*
    means better than the same-length window before the start by n % (e.g. 30 %).
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
