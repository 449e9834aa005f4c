"""The level ladder HR sets: a name per threshold of all-time points."""

from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel


class Level(SQLModel, table=True):
    __tablename__ = "level"
    __table_args__ = (CheckConstraint("min_points >= 0", name="ck_level_min_points"),)

    id: int | None = Field(default=None, primary_key=True)
    min_points: int = Field(unique=True, description="all-time points from which it applies")
    name: str = Field(max_length=32)
    name_en: str = Field(default="", max_length=32)
