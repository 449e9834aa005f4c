"""What the WeCom connection remembers: connector progress, callback health,
HR's on-time policy per approval template, and behaviour figures for dashboards.
App messages use the shared outbox (:mod:`points.notifications`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class ConnectorState(SQLModel, table=True):
    """One pull connector's progress: how far its records are stored, and its health.

    ``window_end`` only moves past records that are stored (or quarantined); inside
    the chunk being fetched, ``position`` says exactly where to resume (WeCom's list
    cursor, approvals still to fetch, the next batch of users). A run that fails or is
    throttled leaves both where the data stops; events are keyed, so re-pulling is
    harmless.
    """

    __tablename__ = "wecom_connector"

    name: str = Field(primary_key=True, max_length=32)
    window_start: datetime | None = Field(default=None, sa_type=AwareDateTime)
    window_end: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_run_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_error_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_error: str | None = Field(default=None, max_length=1000)
    last_result: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    runs: int = 0
    # Failures since the last success: the admin page shows a streak, not history.
    failures: int = 0
    #: "ok", "throttled", "failed" or "misconfigured": how the last run ended.
    status: str = Field(default="", max_length=16)
    position: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Rate-limit answers in a row; the pause grows with it and resets on a success.
    backoff_level: int = 0
    backoff_until: datetime | None = Field(default=None, sa_type=AwareDateTime)
    #: When admins were last warned that this connector lags (once per episode).
    lag_warned_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class QuarantinedRecord(SQLModel, table=True):
    """A record WeCom sent that could not be used, kept with the raw data for an admin.

    One row per connector and record (``record_key`` hashes the raw record), so a
    rerun that meets the same bad record counts it once more instead of adding rows.
    """

    __tablename__ = "wecom_quarantine"
    __table_args__ = (
        UniqueConstraint("connector", "record_key", name="uq_wecom_quarantine_record"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=32, index=True)
    record_key: str = Field(max_length=96)
    reason: str = Field(max_length=200)
    raw: str = Field(sa_type=Text)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    times_seen: int = 1


class CallbackStatus(SQLModel, table=True):
    """A single row (id 1): the callback URL's health for the admin page.

    Only reason codes are kept, never request content or secrets.
    """

    __tablename__ = "wecom_callback_status"

    id: int = Field(default=1, primary_key=True)
    last_verification_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_verification_ok: bool | None = None
    last_verification_error: str | None = Field(default=None, max_length=64)
    last_callback_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_callback_event: str | None = Field(default=None, max_length=64)


class ApprovalPolicyRule(SQLModel, table=True):
    """HR's "on time" rule for one approval template (by template name or id).

    Rows override :data:`points.wecom.mapping.DEFAULT_APPROVAL_POLICY` per template;
    ``enabled = False`` switches the template's rule off (``on_time`` unknown).
    """

    __tablename__ = "wecom_approval_policy"

    template: str = Field(primary_key=True, max_length=64)
    enabled: bool = True
    controls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    titles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_hours_before: float | None = None
    max_hours_after: float | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_by: str = Field(default="system", max_length=96)


class BehaviorDay(SQLModel, table=True):
    """One person's customer-contact activity on one day (``get_user_behavior_data``)."""

    __tablename__ = "wecom_behavior_day"
    __table_args__ = (UniqueConstraint("userid", "day", name="uq_wecom_behavior_day"),)

    id: int | None = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64)
    day: date = Field(index=True)
    chat_cnt: int = 0
    message_cnt: int = 0
    new_apply_cnt: int = 0
    new_contact_cnt: int = 0
    negative_feedback_cnt: int = 0
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
