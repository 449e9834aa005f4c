"""What the /api/v1 routes answer, as pydantic models.

The routes build their answers from these models and the OpenAPI document is built
from the same models (``web.openapi``), so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from points.adjustments.models import PendingAdjustment
from points.adjustments.service import MAX_REASON, Outcome
from points.boards.personal import PersonFigures
from points.ledger.adjustments import MAX_ADJUSTMENT
from points.ledger.models import LedgerTransaction
from points.org.models import Employee
from points.reviews.models import PendingAward, ReviewStatus
from points.reviews.service import MAX_REASON as REVIEW_MAX_REASON
from points.rewards.schemas import RewardPublic


class ErrorBody(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    """Every refusal: ``{"error": {"code", "message"}}``, the message in the caller's language."""

    error: ErrorBody


class EmployeeOut(BaseModel):
    userid: str
    name: str
    department_id: int
    title: str
    status: str

    @classmethod
    def of(cls, employee: Employee) -> EmployeeOut:
        return cls(
            userid=employee.userid,
            name=employee.name,
            department_id=employee.department_id,
            title=employee.title,
            status=employee.status,
        )


class EmployeeFigures(EmployeeOut):
    """One person: who they are, and their balance, period points and rank."""

    available: int
    held: int
    today: int
    week: int
    month: int
    all_time: int
    rank_company: int | None
    rank_department: int | None
    badges: list[str]
    current_streak: int

    @classmethod
    def build(cls, employee: Employee, figures: PersonFigures) -> EmployeeFigures:
        return cls(**EmployeeOut.of(employee).model_dump(), **figures.to_dict())


class EmployeePage(BaseModel):
    items: list[EmployeeOut]
    total: int
    offset: int
    limit: int


class EntryOut(BaseModel):
    id: int
    kind: str
    points: int
    effective_at: str
    reason: str
    reason_en: str
    event_id: int | None
    rule_id: str | None
    rule_version: int | None
    author: str
    reverses_id: int | None

    @classmethod
    def of(cls, row: LedgerTransaction) -> EntryOut:
        assert row.id is not None
        return cls(
            id=row.id,
            kind=row.kind,
            points=row.points,
            effective_at=row.effective_at.isoformat(),
            reason=row.reason,
            reason_en=row.reason_en,
            event_id=row.event_id,
            rule_id=row.rule_id,
            rule_version=row.rule_version,
            author=row.author,
            reverses_id=row.reverses_id,
        )


class EntryPage(BaseModel):
    items: list[EntryOut]
    total: int
    offset: int
    limit: int


class EventResult(BaseModel):
    external_id: str | None
    status: Literal["created", "duplicate", "conflict", "invalid"]
    id: int | None = None
    error: str | None = None


class EventResults(BaseModel):
    """Per event, in the order sent; 207 when any was invalid."""

    results: list[EventResult]


class CatalogueItem(RewardPublic):
    remaining: int | None
    affordable: bool
    shortfall: int
    open_now: bool


class Catalogue(BaseModel):
    items: list[CatalogueItem]


class AdjustmentIn(BaseModel):
    """``POST /api/v1/employees/{userid}/adjustments``"""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT, description="non-zero")
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class AdjustmentOut(BaseModel):
    """``applied`` (201), or ``pending`` (202) until a second HR/admin person approves."""

    status: Outcome
    userid: str
    points: int
    pending_id: int | None = None


class PendingOut(BaseModel):
    id: int
    userid: str
    points: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None

    @classmethod
    def of(cls, pending: PendingAdjustment, userid: str) -> PendingOut:
        assert pending.id is not None
        return cls(
            id=pending.id,
            userid=userid,
            points=pending.points,
            reason=pending.reason,
            status=pending.status,
            requested_by=pending.requested_by,
            decided_by=pending.decided_by,
        )


class IntegrityFlagOut(BaseModel):
    """One pattern worth a look (``GET /api/v1/integrity/flags``); never a penalty."""

    id: int
    userid: str
    name: str
    pattern: Literal["cap_streak", "burst", "odd_hours", "mutual_approvals"]
    subject: str = Field(description="the rule, event type or partner it is about")
    evidence: dict[str, Any] = Field(description="the figures and days behind the flag")
    since: date
    last_seen: date
    status: Literal["open", "reviewed"]
    reviewed_by: str | None
    review_note: str | None
    events_url: str = Field(description="the page listing the events behind it")


class IntegrityFlagList(BaseModel):
    items: list[IntegrityFlagOut]


class ReviewDecisionIn(BaseModel):
    """``POST /api/v1/reviews/{id}/accept|reject``: an optional reason (kept, audited)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=REVIEW_MAX_REASON)


class PendingAwardOut(BaseModel):
    """An award of a rule with `review`: pending until accepted, rejected or expired."""

    id: int
    userid: str
    name: str
    points: int
    reason: str
    reason_en: str
    event_id: int
    rule_id: str
    rule_version: int
    reviewer: Literal["hr", "head"]
    effective_at: str
    expires_at: str
    status: Literal["pending", "accepted", "rejected", "expired", "withdrawn"]
    decided_by: str | None
    decision_reason: str

    @classmethod
    def of(cls, award: PendingAward, employee: Employee) -> PendingAwardOut:
        assert award.id is not None
        return cls(
            id=award.id,
            userid=employee.userid,
            name=employee.name,
            points=award.points,
            reason=award.reason,
            reason_en=award.reason_en,
            event_id=award.event_id,
            rule_id=award.rule_id,
            rule_version=award.rule_version,
            reviewer="head" if award.reviewer == "head" else "hr",
            effective_at=award.effective_at.isoformat(),
            expires_at=award.expires_at.isoformat(),
            status=ReviewStatus(award.status).value,
            decided_by=award.decided_by,
            decision_reason=award.decision_reason,
        )


class PendingAwardPage(BaseModel):
    """The awards the caller may review, oldest first (their own never among them)."""

    items: list[PendingAwardOut]
