"""The reward catalogue, redemptions (with their timeline) and voucher code pools."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import JSON, CheckConstraint, Column, Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from points.calendar import Period
from points.db import AwareDateTime, utcnow

# Periods of the company calendar a redemption limit counts in ("all" would mean
# once ever, which is not a limit).
LIMIT_PERIODS = (Period.day, Period.week, Period.month, Period.quarter, Period.year)


class Fulfilment(enum.StrEnum):
    manual = "manual"  # HR hands it over (午餐券, 定制周边…)
    voucher = "voucher"  # a code from an uploaded pool, shown only to its owner
    leave = "leave"  # paid leave hours; the person's head approves


class Approver(enum.StrEnum):
    none = "none"  # straight to fulfilment
    hr = "hr"
    head = "head"  # the head of a department above the person


class Reward(SQLModel, table=True):
    __tablename__ = "reward"
    __table_args__ = (
        # The promise "never oversold", kept by the database itself.
        CheckConstraint("stock IS NULL OR stock >= 0", name="ck_reward_stock_not_negative"),
        CheckConstraint("price > 0", name="ck_reward_price_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    name_en: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    icon: str = Field(default="🎁", max_length=16, description="emoji shown without a picture")
    picture: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    picture_type: str | None = Field(default=None, max_length=32)
    price: int
    # Units left to request; NULL means unlimited. Released holds give the unit back.
    stock: int | None = None
    low_stock_at: int = Field(default=5, description="warn HR when stock falls to this")
    limit_count: int | None = Field(default=None, description="per person per limit_period")
    limit_period: Period | None = Field(default=None, sa_type=String(8))
    # Department ids whose subtrees may redeem; empty means everyone.
    audience: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    available_from: datetime | None = Field(default=None, sa_type=AwareDateTime)
    available_until: datetime | None = Field(default=None, sa_type=AwareDateTime)
    fulfilment: Fulfilment = Field(default=Fulfilment.manual, sa_type=String(16))
    leave_hours: int | None = None
    approver: Approver = Field(default=Approver.none, sa_type=String(8))
    # Pending requests nobody acts on are released after this many days.
    expire_after_days: int = 14
    active: bool = True
    sort_order: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    updated_by: str = Field(default="system", max_length=96)


class RedemptionStatus(enum.StrEnum):
    awaiting_approval = "awaiting_approval"
    awaiting_fulfilment = "awaiting_fulfilment"
    fulfilled = "fulfilled"
    declined = "declined"
    cancelled = "cancelled"
    expired = "expired"


# Statuses whose price is still held (and whose unit of stock is still reserved).
PENDING = (RedemptionStatus.awaiting_approval, RedemptionStatus.awaiting_fulfilment)
# Statuses that count towards a per-person limit.
COUNTED = (*PENDING, RedemptionStatus.fulfilled)


class Redemption(SQLModel, table=True):
    __tablename__ = "redemption"
    __table_args__ = (
        # Idempotency-Key: one redemption per person and key, however often it is sent.
        UniqueConstraint("employee_id", "idempotency_key", name="uq_redemption_idempotency"),
        Index("ix_redemption_status", "status", "requested_at"),
        Index("ix_redemption_employee_reward", "employee_id", "reward_id", "requested_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reward_id: int = Field(foreign_key="reward.id")
    employee_id: int = Field(foreign_key="employee.id")
    # The person's department when they asked: spend by department keeps it.
    department_id: int = Field(foreign_key="department.id")
    price: int
    status: RedemptionStatus = Field(sa_type=String(24))
    idempotency_key: str | None = Field(default=None, max_length=128)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    requested_by: str = Field(max_length=96)
    expires_at: datetime = Field(sa_type=AwareDateTime)
    approved_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    approved_by: str | None = Field(default=None, max_length=96)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    closed_by: str | None = Field(default=None, max_length=96)
    reason: str = Field(default="", max_length=500, description="why declined or cancelled")
    # Paid leave: the day the person wants off (the head approves with it in view).
    leave_date: date | None = None


class RedemptionStep(SQLModel, table=True):
    """One line of a redemption's timeline, as its owner sees it."""

    __tablename__ = "redemption_step"

    id: int | None = Field(default=None, primary_key=True)
    redemption_id: int = Field(foreign_key="redemption.id", index=True)
    status: RedemptionStatus = Field(sa_type=String(24))
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    actor: str = Field(max_length=96)
    note: str = Field(default="", max_length=500)


class VoucherCode(SQLModel, table=True):
    """A code from an uploaded pool. Reserved at request, shown only once fulfilled."""

    __tablename__ = "voucher_code"
    __table_args__ = (
        UniqueConstraint("reward_id", "code", name="uq_voucher_code"),
        # Each code belongs to at most one redemption, ever at a time.
        UniqueConstraint("redemption_id", name="uq_voucher_code_redemption"),
        Index("ix_voucher_code_free", "reward_id", "redemption_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reward_id: int = Field(foreign_key="reward.id")
    code: str = Field(max_length=200)
    batch: str = Field(default="", max_length=100, description="the uploaded file's name")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    uploaded_by: str = Field(default="system", max_length=96)
    redemption_id: int | None = Field(default=None, foreign_key="redemption.id")
    given_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class Offer(Protocol):
    """What the request checks read of a reward: a :class:`Reward`, or its columns."""

    @property
    def audience(self) -> list[int]: ...

    @property
    def available_from(self) -> datetime | None: ...

    @property
    def available_until(self) -> datetime | None: ...


def audience_of(reward: Offer) -> list[int]:
    value: Any = reward.audience or []
    return [int(v) for v in value]


class RewardGoal(SQLModel, table=True):
    """The reward a person pinned as their goal (one per person), shown on home."""

    __tablename__ = "reward_goal"

    employee_id: int = Field(foreign_key="employee.id", primary_key=True)
    reward_id: int = Field(foreign_key="reward.id")
    pinned_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
