"""The notification outbox: messages written in the transaction that causes them.

Whatever sends them (WeCom app messages, e-mail…) reads unsent rows, sends, and
stamps ``sent_at``; a message can never announce something that rolled back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_unsent", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64, index=True, description="WeCom userid of the recipient")
    kind: str = Field(max_length=48, description="e.g. redemption.fulfilled")
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    url: str = Field(default="", max_length=500, description="a path or absolute URL to open")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    #: A send whose outcome is unknown (a timeout after WeCom may have delivered):
    #: the exact message is retried under this key while WeCom's duplicate check
    #: still covers it, so it reaches the person once.
    send_key: str | None = Field(default=None, max_length=64)
    uncertain_since: datetime | None = Field(default=None, sa_type=AwareDateTime)
