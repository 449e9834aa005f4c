"""Which events count for a team goal: its ``when`` and ``if``, judged by the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from rules.engine import compile_ruleset, evaluate
from rules.history import ActorHistory
from rules.schema import Rule, RuleFile
from rules.team_goals import TeamGoal


@dataclass(frozen=True)
class GoalMatcher:
    """Tells whether an event counts for a team goal (its ``when`` and ``if``)."""

    test: Callable[[Any], bool]

    def __call__(self, event: Any) -> bool:
        return self.test(event)


def matcher(
    goal: TeamGoal,
    event_types: Mapping[str, Mapping[str, Any]],
    zone: tzinfo | str | None = None,
) -> GoalMatcher:
    """A test of :class:`rules.event.Event` values: the engine judging a one-rule set
    made of the goal's ``when`` and ``if`` (so conditions read exactly as in rules)."""
    probe = Rule.model_validate(
        {"id": "team-goal", "title": "team goal", "when": goal.when, "if": goal.if_, "points": 1}
    )
    compiled = compile_ruleset(
        RuleFile.model_validate({"event_types": dict(event_types), "rules": [probe]})
    )
    empty = ActorHistory()
    return GoalMatcher(lambda event: bool(evaluate(compiled, event, empty, zone)))
