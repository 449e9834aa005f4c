"""The rule schema HR writes in YAML (or the web editor), as pydantic models.

The models check shape and types only; checks that need the catalogue or more
than one field (unknown event types, conditions, negative points without a
reason) live in :mod:`rules.loader` so every problem is reported with its line.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from rules.catalog import AttributeType
from rules.periods import Period
from rules.review import REVIEW_FIELDS, Review
from rules.team_goals import TEAM_GOAL_FIELDS, WINDOW_FIELDS, TeamGoal


def _one_or_many(value: Any) -> Any:
    # ``when: doc.shared`` and ``when: [doc.shared, doc.created]`` both read naturally.
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Cap(_Strict):
    """At most ``max`` points per local day/ISO week/month/quarter from one rule."""

    per: Period
    max: StrictInt = Field(gt=0)


class Streak(_Strict):
    """Consecutive local days, ISO weeks or working days with a matching event.

    Working days follow the company calendar (:mod:`rules.workdays`): a day off
    between two working days breaks nothing.
    """

    days: StrictInt | None = Field(default=None, ge=2)
    weeks: StrictInt | None = Field(default=None, ge=2)
    workdays: StrictInt | None = Field(default=None, ge=2)


class MilestoneLevel(_Strict):
    """One level: reached when the running count (or sum) gets to ``at``."""

    at: StrictInt | StrictFloat = Field(gt=0)
    points: StrictInt = Field(default=0, ge=0)
    badge: StrictStr | None = Field(default=None, min_length=1, max_length=40)
    tier: StrictStr | None = Field(default=None, min_length=1, max_length=20)
    tier_en: StrictStr | None = Field(default=None, min_length=1, max_length=20)


class Milestone(_Strict):
    """Levels of the count of matching events, or of ``sum: attributes.X``."""

    levels: list[MilestoneLevel] = Field(min_length=1, max_length=12)
    sum: StrictStr | None = None


class Valid(_Strict):
    """Inclusive date window in local time; either end may be open."""

    from_: date | None = Field(default=None, alias="from")
    until: date | None = None


class ChallengeWindow(_Strict):
    """How long a challenge runs and from when: the person's join date, their first
    matching event, or a fixed date (``YYYY-MM-DD``)."""

    days: StrictInt = Field(ge=1, le=366)
    starts: date | StrictStr = "joined"


class ChallengeGoal(_Strict):
    """One line of a challenge: ``count`` matching events inside the window.

    ``departments`` limits the goal to people in those departments (others do not
    have it on their list).
    """

    title: StrictStr | None = Field(default=None, max_length=60)
    title_en: StrictStr | None = Field(default=None, max_length=60)
    when: Annotated[list[StrictStr], BeforeValidator(_one_or_many)] = Field(min_length=1)
    if_: StrictStr | None = Field(default=None, alias="if")
    count: StrictInt = Field(default=1, ge=1, le=10_000)
    departments: list[StrictStr | StrictInt] = Field(default_factory=list)


class Challenge(_Strict):
    """Every goal met inside the window earns the rule's points and badge once."""

    window: ChallengeWindow
    goals: list[ChallengeGoal] = Field(default_factory=list, max_length=20)


class Rule(_Strict):
    """One scoring rule. See DESIGN.md "Rules" for examples."""

    id: StrictStr = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    title: StrictStr = Field(min_length=1, max_length=120)
    title_en: StrictStr | None = None
    when: Annotated[list[StrictStr] | None, BeforeValidator(_one_or_many)] = None
    if_: StrictStr | None = Field(default=None, alias="if")
    points: StrictInt | None = None
    multiplier: StrictFloat | None = None
    once_per: StrictStr | None = None
    cap: Cap | None = None
    cooldown: StrictStr | None = None
    first_time: StrictBool = False
    streak: Streak | None = None
    milestone: Milestone | None = None
    challenge: Challenge | None = None
    departments: list[StrictStr | StrictInt] = Field(default_factory=list)
    exclude: list[StrictStr] = Field(default_factory=list)
    valid: Valid | None = None
    badge: StrictStr | None = None
    enabled: StrictBool = True
    reason: StrictStr | None = None
    review: Review | None = None  # awards wait for a reviewer (rules/review.py)
    team_goal: TeamGoal | None = None  # a department challenge (rules/team_goals.py)


# Field names as HR writes them (aliases), for "did you mean" suggestions.
RULE_FIELDS: tuple[str, ...] = tuple(
    (info.alias or name) for name, info in Rule.model_fields.items()
)
CAP_FIELDS = tuple(Cap.model_fields)
STREAK_FIELDS = tuple(Streak.model_fields)
MILESTONE_FIELDS = tuple(Milestone.model_fields)
LEVEL_FIELDS = tuple(MilestoneLevel.model_fields)
VALID_FIELDS = ("from", "until")
CHALLENGE_FIELDS = tuple(Challenge.model_fields)
CHALLENGE_WINDOW_FIELDS = tuple(ChallengeWindow.model_fields)
GOAL_FIELDS = tuple((i.alias or n) for n, i in ChallengeGoal.model_fields.items())
TOP_LEVEL_FIELDS = ("event_types", "rules")
# Fields of nested mappings by their dotted parent, for "did you mean" suggestions.
NESTED_FIELDS: dict[str, tuple[str, ...]] = {
    "cap": CAP_FIELDS,
    "streak": STREAK_FIELDS,
    "valid": VALID_FIELDS,
    "review": REVIEW_FIELDS,
    "team_goal": TEAM_GOAL_FIELDS,
    "team_goal.window": WINDOW_FIELDS,
}


class RuleFile(_Strict):
    """A whole rule file: optional extra event types and the rules."""

    event_types: dict[str, dict[str, AttributeType]] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    def to_yaml(self) -> str:
        """Render back to YAML in the shape HR writes (aliases, no defaults)."""
        rules = []
        for rule in self.rules:
            data = rule.model_dump(by_alias=True, exclude_defaults=True, mode="json")
            when = data.get("when")
            if isinstance(when, list) and len(when) == 1:
                data["when"] = when[0]
            rules.append(data)
        document: Any = rules
        if self.event_types:
            document = {"event_types": self.event_types, "rules": rules}
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
