"""Review before award: ``review: {by: hr|head, expires: 14d}`` on a rule.

A rule with ``review`` scores exactly like one without; the scorer keeps each of its
awards pending (not in the ledger) until a reviewer accepts it (HR for ``hr``; the
person's department head for ``head``, HR and admins too) or rejects it, or it
expires after ``expires`` and is rejected with that reason.

A pending award holds its place: caps, ``once_per``, ``first_time`` and cooldowns
count it exactly like a posted award, so accepting it later can never take a cap
over its limit; a rejected or expired one frees its place again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, StrictStr

from rules.periods import parse_duration
from rules.source import Path_, RuleError, line_of

Reviewer = Literal["hr", "head"]
REVIEWERS: tuple[str, ...] = ("hr", "head")
DEFAULT_EXPIRY = "14d"
LONGEST_EXPIRY = timedelta(days=90)
REVIEW_HINT = "write review: {by: hr|head, expires: 14d}"


class Review(BaseModel):
    """Who accepts the rule's awards and how long they wait before expiring."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    by: Reviewer
    expires: StrictStr = DEFAULT_EXPIRY


REVIEW_FIELDS: tuple[str, ...] = tuple(Review.model_fields)


def expiry_of(review: Review) -> timedelta:
    """How long an award of this rule may wait (validated: parses, within 90 days)."""
    return parse_duration(review.expires)


class _Reviewed(Protocol):
    """What the check reads of a rule (a :class:`rules.schema.Rule` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def review(self) -> Review | None: ...
    @property
    def multiplier(self) -> float | None: ...
    @property
    def points(self) -> int | None: ...


def check_review(
    rule: _Reviewed,
    base: Path_,
    lines: Mapping[Path_, int],
    is_team_goal: Callable[[], bool],
) -> list[RuleError]:
    """Misuse of ``review`` the schema cannot see: bad expiry, campaigns, deductions."""
    review = rule.review
    if review is None:
        return []
    errors: list[RuleError] = []

    def err(message: str, field: str, suggestion: str | None = REVIEW_HINT) -> None:
        path = (*base, *field.split("."))
        where = line_of(lines, path) or line_of(lines, (*base, "review"))
        errors.append(RuleError(message, where, rule.id, field, suggestion))

    try:
        if parse_duration(review.expires) > LONGEST_EXPIRY:
            err("a review may wait at most 90d", "review.expires", "write e.g. expires: 14d")
    except ValueError as problem:
        err(str(problem), "review.expires", "write e.g. expires: 14d")
    if rule.multiplier is not None:
        err("a campaign multiplier cannot need review", "review", "review the rules it multiplies")
    if rule.points is not None and rule.points < 0:
        err("only awards are reviewed, not deductions", "review", "remove `review`")
    if is_team_goal():
        err(
            "a team goal is paid when its window closes and cannot need review",
            "review",
            "remove `review`",
        )
    return errors
