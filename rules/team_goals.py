"""Department challenges: ``team_goal`` rules, paid when their window closes.

::

    - id: admin-online-approvals
      title: 行政部线上审批挑战
      points: 30
      team_goal:
        departments: [行政部]
        when: approval.submitted
        if: online == true
        measure: participation        # participation | count | per_head
        target: 90%                   # participation: 0.9 or 90%; otherwise a number
        window: {from: 2026-12-01, days: 30}

Each listed department (with everything below it) is one team. Over the window
(local days ``from`` … ``from + days − 1``) a team's figure is:

- ``participation``: the share of its members with at least one matching event,
- ``count``: its members' matching events,
- ``per_head``: matching events divided by members,

where members are everyone who belonged to the team at some moment of the window and
an event counts for the team it was done in. When the window has closed with the
figure at or above ``target``, everyone who belonged for the *whole* window gets
``points`` (and ``badge``) once. Scoring never sees these rules: a scheduled job
settles each window after it closes. Pure: no database here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from rules.source import Path_, RuleError, line_of

Measure = Literal["participation", "count", "per_head"]
MEASURES: tuple[str, ...] = ("participation", "count", "per_head")
TEAM_GOAL_HINT = (
    "write team_goal: {departments: [行政部], when: approval.submitted, "
    "measure: participation, target: 90%, window: {from: 2026-12-01, days: 30}}"
)
LONGEST_WINDOW = 366


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GoalWindow(_Strict):
    """``from`` (a local date) and how many days the window lasts."""

    from_: date = Field(alias="from")
    days: StrictInt = Field(ge=1, le=LONGEST_WINDOW)

    @property
    def until(self) -> date:
        """The window's last day (inclusive)."""
        return self.from_ + timedelta(days=self.days - 1)

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The window as aware instants: [start, end)."""
        start = datetime.combine(self.from_, time(), zone)
        return start, datetime.combine(self.from_ + timedelta(days=self.days), time(), zone)


class TeamGoal(_Strict):
    """One department challenge (see the module text)."""

    departments: list[StrictStr | StrictInt] = Field(min_length=1)
    when: Annotated[list[StrictStr], BeforeValidator(_one_or_many)] = Field(min_length=1)
    if_: StrictStr | None = Field(default=None, alias="if")
    measure: Measure
    target: StrictInt | StrictFloat | StrictStr
    window: GoalWindow

    @property
    def target_value(self) -> float:
        """The target as a number (a participation share as 0…1); validated."""
        parsed = parse_target(self.target)
        assert parsed is not None
        return parsed


TEAM_GOAL_FIELDS: tuple[str, ...] = tuple(
    (info.alias or name) for name, info in TeamGoal.model_fields.items()
)
WINDOW_FIELDS: tuple[str, ...] = ("from", "days")


def parse_target(target: int | float | str) -> float | None:
    """``0.9``, ``90%`` → 0.9; ``12`` → 12.0; None when it is not a number."""
    if isinstance(target, str):
        text = target.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            return None
    return float(target)


class _GoalRule(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def team_goal(self) -> TeamGoal | None: ...
    @property
    def points(self) -> int | None: ...
    @property
    def when(self) -> list[str] | None: ...
    @property
    def if_(self) -> str | None: ...
    @property
    def multiplier(self) -> float | None: ...


# Rule fields that mean something per event and nothing for a team goal.
_PER_EVENT = ("cap", "cooldown", "first_time", "once_per", "streak", "multiplier", "valid")


def check_team_goal(
    rule: _GoalRule,
    raw_fields: set[str],
    base: Path_,
    lines: Mapping[Path_, int],
    check_events: Callable[[str | None, list[str], Path_], list[RuleError]],
) -> list[RuleError]:
    """Misuse the schema cannot see. ``check_events(if, when, path)`` is the loader's
    check of event types and a condition, reported under ``path``."""
    goal = rule.team_goal
    if goal is None:
        return []
    errors: list[RuleError] = []
    here: Path_ = (*base, "team_goal")

    def err(message: str, field: str, suggestion: str | None = TEAM_GOAL_HINT) -> None:
        parts = field.split(".")
        where = line_of(lines, (*base, *parts)) or line_of(lines, here)
        errors.append(RuleError(message, where, rule.id, field, suggestion))

    if rule.points is None or rule.points <= 0:
        err("a team goal needs positive `points` for each member", "points", "add e.g. points: 30")
    for name in ("when", "if"):
        if name in raw_fields:
            err(
                f"a team goal's `{name}` goes under `team_goal`",
                name,
                f"move `{name}:` into team_goal",
            )
    for name in _PER_EVENT:
        if name in raw_fields:
            err(f"`{name}` has no meaning for a team goal", name, f"remove `{name}`")
    target = parse_target(goal.target)
    if target is None:
        err(f"target {goal.target!r} is not a number", "team_goal.target", "write e.g. 0.9 or 90%")
    elif target <= 0:
        err(f"target must be more than 0, got {goal.target!r}", "team_goal.target")
    elif goal.measure == "participation" and target > 1:
        err(
            f"participation is a share of members: at most 1 (100%), got {goal.target!r}",
            "team_goal.target",
            "write e.g. 0.9 or 90%",
        )
    elif (
        goal.measure != "participation"
        and isinstance(goal.target, str)
        and goal.target.strip().endswith("%")
    ):
        err(
            f"a {goal.measure} target is a number, not a share, got {goal.target!r}",
            "team_goal.target",
            "use measure: participation for a share of members",
        )
    for problem in check_events(goal.if_, list(goal.when), here):
        errors.append(
            RuleError(
                problem.message,
                problem.line,
                rule.id,
                f"team_goal.{problem.field}" if problem.field else "team_goal",
                problem.suggestion,
            )
        )
    return errors


def figure(measure: str, members: int, active: int, events: int) -> float:
    """A team's figure: ``active`` members had ≥1 matching event, ``events`` in all."""
    if measure == "count":
        return float(events)
    if members <= 0:
        return 0.0
    if measure == "participation":
        return active / members
    return events / members


def reached(measure: str, value: float, target: float) -> bool:
    """Whether ``value`` meets ``target`` (rounded to 6 places: 9/10 is 0.9)."""
    del measure
    return round(value, 6) >= round(target, 6)
