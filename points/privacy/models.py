"""Texts admins edit (the privacy notice), one row per key and language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class SiteText(SQLModel, table=True):
    __tablename__ = "site_text"
    __table_args__ = (UniqueConstraint("key", "locale", name="uq_site_text"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32)
    locale: str = Field(max_length=8)
    body: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_by: str = Field(default="", max_length=96)
