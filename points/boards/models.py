"""Frozen (published) boards of closed periods, and the indexes boards read through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow
from points.events.models import ActivityEvent
from points.org.models import Employee


class FrozenBoard(SQLModel, table=True):
    """A week or month whose company board was published when the period closed.

    One row per period, so freezing twice is a no-op (the unique key decides).
    """

    __tablename__ = "frozen_board"
    __table_args__ = (UniqueConstraint("period", "period_key", name="uq_frozen_board_period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(sa_type=String(8))
    period_key: str = Field(max_length=16)
    closed_at: datetime = Field(sa_type=AwareDateTime, description="when the period ended")
    frozen_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    people: int = 0


class FrozenRank(SQLModel, table=True):
    """One person's published place on a frozen board (company-wide competition rank)."""

    __tablename__ = "frozen_rank"
    __table_args__ = (
        UniqueConstraint("board_id", "employee_id", name="uq_frozen_rank_person"),
        Index("ix_frozen_rank_board_rank", "board_id", "rank"),
    )

    # No foreign keys: the rows are a snapshot copied in one statement from rows that
    # exist in the same transaction and are never deleted; checking three keys per row
    # was 70% of the time to freeze a 100,000-person board (migration 0014).
    id: int | None = Field(default=None, primary_key=True)
    board_id: int
    employee_id: int
    # The person's department when the board was published: department views of a
    # frozen board show who was there then.
    department_id: int
    rank: int
    points: int


# People who never appear on a board (excluded, or left). The set is small, so a
# partial index lets every board query skip them without scanning all employees.
OFF_BOARD_SQL = "excluded OR status = 'left'"
Index(
    "ix_employee_off_board",
    Employee.__table__.c.id,  # type: ignore[attr-defined]
    postgresql_where=text(OFF_BOARD_SQL),
    sqlite_where=text(OFF_BOARD_SQL),
)

# Dashboards read a bounded window of events for a set of people.
Index(
    "ix_activity_event_occurred_employee",
    ActivityEvent.__table__.c.occurred_at,  # type: ignore[attr-defined]
    ActivityEvent.__table__.c.employee_id,  # type: ignore[attr-defined]
)
