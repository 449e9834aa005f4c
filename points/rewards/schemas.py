"""What crosses the API (and the editor form) for rewards and redemptions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from points.bounds import FIRST_DAY, INT_MAX, LAST_DAY
from points.calendar import Period
from points.rewards.models import LIMIT_PERIODS, Approver, Fulfilment, Redemption, Reward

# Ids and counts fit the integer columns they are stored in.
Id = Annotated[int, Field(ge=1, le=INT_MAX)]


class RewardCreate(BaseModel):
    """A reward as HR writes it; the same fields edit an existing one."""

    # A misspelt field is an error, not silently dropped.
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    name_en: str = Field("", max_length=64)
    description: str = Field("", max_length=2000)
    description_en: str = Field("", max_length=2000)
    icon: str = Field("🎁", max_length=16)
    price: int = Field(gt=0, le=1_000_000)
    stock: int | None = Field(None, ge=0, le=INT_MAX)
    low_stock_at: int = Field(5, ge=0, le=INT_MAX)
    limit_count: int | None = Field(None, ge=1, le=10_000)
    limit_period: Period | None = None
    audience: list[Id] = Field(default_factory=list, max_length=500)
    available_from: datetime | None = None
    available_until: datetime | None = None
    fulfilment: Fulfilment = Fulfilment.manual
    leave_hours: int | None = Field(None, ge=1, le=400)
    approver: Approver = Approver.none
    expire_after_days: int = Field(14, ge=1, le=365)
    active: bool = True
    sort_order: int = Field(0, ge=-INT_MAX, le=INT_MAX)

    @field_validator("limit_period")
    @classmethod
    def _limit_period(cls, value: Period | None) -> Period | None:
        if value is not None and value not in LIMIT_PERIODS:
            raise ValueError("a limit counts per day, week, month, quarter or year")
        return value

    @field_validator("available_from", "available_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-12-01T00:00:00+08:00")
        if value is not None and not FIRST_DAY <= value.date() <= LAST_DAY:
            raise ValueError(f"give a date between {FIRST_DAY} and {LAST_DAY}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RewardCreate:
        if (self.limit_count is None) != (self.limit_period is None):
            raise ValueError("a per-person limit needs both a count and a period")
        if (
            self.available_from
            and self.available_until
            and self.available_until <= self.available_from
        ):
            raise ValueError("the window must end after it starts")
        if self.fulfilment == Fulfilment.leave:
            if self.leave_hours is None:
                raise ValueError("paid leave needs its hours")
            # Leave is the person's head's call (the issue fixes this).
            self.approver = Approver.head
        return self


class RewardPublic(BaseModel):
    id: int
    name: str
    name_en: str
    description: str
    icon: str
    price: int
    stock: int | None
    limit_count: int | None
    limit_period: str | None
    audience: list[int]
    available_from: datetime | None
    available_until: datetime | None
    fulfilment: str
    leave_hours: int | None
    approver: str
    active: bool

    @classmethod
    def of(cls, reward: Reward) -> RewardPublic:
        assert reward.id is not None
        return cls(
            id=reward.id,
            name=reward.name,
            name_en=reward.name_en,
            description=reward.description,
            icon=reward.icon,
            price=reward.price,
            stock=reward.stock,
            limit_count=reward.limit_count,
            limit_period=reward.limit_period,
            audience=list(reward.audience or []),
            available_from=reward.available_from,
            available_until=reward.available_until,
            fulfilment=reward.fulfilment,
            leave_hours=reward.leave_hours,
            approver=reward.approver,
            active=reward.active,
        )


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_id: Id
    employee: str | None = Field(None, max_length=64, description="HR/admin only: on behalf of")
    leave_date: date | None = Field(
        None, description="paid leave: the day off, from today to a year ahead (required)"
    )


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class RedemptionPublic(BaseModel):
    id: int
    reward_id: int
    employee_id: int
    price: int
    status: str
    requested_at: datetime
    requested_by: str
    expires_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    reason: str
    leave_date: date | None = None
    voucher_code: str | None = None

    @classmethod
    def of(cls, redemption: Redemption, voucher_code: str | None = None) -> RedemptionPublic:
        assert redemption.id is not None
        return cls(
            id=redemption.id,
            reward_id=redemption.reward_id,
            employee_id=redemption.employee_id,
            price=redemption.price,
            status=redemption.status,
            requested_at=redemption.requested_at,
            requested_by=redemption.requested_by,
            expires_at=redemption.expires_at,
            approved_at=redemption.approved_at,
            approved_by=redemption.approved_by,
            closed_at=redemption.closed_at,
            closed_by=redemption.closed_by,
            reason=redemption.reason,
            leave_date=redemption.leave_date,
            voucher_code=voucher_code,
        )
