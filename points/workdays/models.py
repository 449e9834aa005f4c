"""One row per date that differs from the Monday–Friday week."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel


class CalendarDay(SQLModel, table=True):
    """A holiday (``off``) or a make-up working day (``work``, 调休上班)."""

    __tablename__ = "work_calendar_day"
    __table_args__ = (CheckConstraint("kind IN ('off', 'work')", name="ck_work_calendar_day_kind"),)

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=8)
    name: str = Field(default="", max_length=40)
