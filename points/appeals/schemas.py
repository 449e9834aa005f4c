"""What crosses the API for appeals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from points.appeals.service import MAX_MESSAGE, MAX_REASON


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    message: str = Field(max_length=MAX_MESSAGE)
    entry_id: int | None = None
    occurred_on: str | None = Field(default=None, description="YYYY-MM-DD")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    points: int
    reason: str = Field(max_length=MAX_REASON)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(max_length=MAX_REASON)
