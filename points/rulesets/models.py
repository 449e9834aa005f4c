"""Stored rule-set versions: draft → active → retired; exactly one is active."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class VersionStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    retired = "retired"


class RuleVersion(SQLModel, table=True):
    __tablename__ = "rule_version"
    __table_args__ = (
        # At most one active version, enforced by the database (partial unique index).
        Index(
            "uq_rule_version_one_active",
            "status",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, description="the version number")
    status: VersionStatus = Field(default=VersionStatus.draft, sa_type=String(16))
    source: str = Field(sa_type=Text, description="the YAML as HR wrote it")
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    created_by: str = Field(default="system", max_length=96)
    activated_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    activated_by: str | None = Field(default=None, max_length=96)
