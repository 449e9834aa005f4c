"""API bearer tokens. Only a hash is stored; the token is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow
from points.org.models import Role


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    role: Role = Field(sa_type=String(16))
    employee_id: int | None = Field(default=None, foreign_key="employee.id")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16, description="first characters, to recognise a token")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    created_by: str = Field(default="cli", max_length=64)
    last_used_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    # Office screens and integrations that only read: every write is refused.
    read_only: bool = False
