"""What crosses the boundary into intake: one normalized activity event.

Every source (WeCom callback, pull connectors, REST, CSV/JSONL import) produces
this shape; intake stores it once per ``(source, external_id)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class EventIn(BaseModel):
    """A normalized activity event, as in DESIGN.md."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=3, max_length=80)
    actor: str = Field(min_length=1, max_length=64, description="WeCom userid of the person")
    occurred_at: datetime
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type_shape(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.match(value):
            raise ValueError("type must look like 'approval.submitted' (lowercase, dotted)")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("occurred_at needs a timezone, e.g. 2026-11-24T09:30:00+08:00")
        if value < EARLIEST_EVENT:
            raise ValueError("occurred_at is before 2000")
        return value


def check_not_future(event: EventIn, now: datetime) -> None:
    """Intake from outside (API, import) refuses events dated in the future: a typo such
    as 9999-12-31 would be stored and trouble scoring later. A day of slack allows for
    clocks that run a little fast."""
    if event.occurred_at > now + FUTURE_SLACK:
        raise ValueError("occurred_at is more than a day in the future")
