"""What-if simulation (backtest): who gains and who loses under a candidate rule set.

Both rule sets score the same time-ordered events, each with its own fresh
in-memory history, so caps, cooldowns and streaks play out exactly as they would
have. Everything happens in memory; the CLI wiring reads events from the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from rules.engine import CompiledRuleset, score_event
from rules.event import Event
from rules.history import InMemoryHistory
from rules.periods import resolve_timezone

NO_DEPARTMENT = "(无部门)"


@dataclass(slots=True)
class Tally:
    """Points under the active and the candidate rule set."""

    active: int = 0
    candidate: int = 0

    @property
    def difference(self) -> int:
        """Candidate minus active: positive means the person/department/rule gains."""
        return self.candidate - self.active

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return {"active": self.active, "candidate": self.candidate, "difference": self.difference}


@dataclass
class SimulationReport:
    """Result of :func:`simulate`; ``to_dict()`` is what ``--json`` prints."""

    active_version: int
    candidate_version: int
    events: int = 0
    awards_active: int = 0
    awards_candidate: int = 0
    by_person: dict[str, Tally] = field(default_factory=dict)
    by_department: dict[str, Tally] = field(default_factory=dict)
    by_rule: dict[str, Tally] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def total_active(self) -> int:
        """All points the active rule set issued."""
        return sum(t.active for t in self.by_person.values())

    @property
    def total_candidate(self) -> int:
        """All points the candidate rule set would have issued."""
        return sum(t.candidate for t in self.by_person.values())

    @property
    def inflation(self) -> int:
        """Extra points the candidate issues (negative: fewer)."""
        return self.total_candidate - self.total_active

    @property
    def inflation_ratio(self) -> float | None:
        """Candidate total ÷ active total (None when the active set issued nothing)."""
        return self.total_candidate / self.total_active if self.total_active else None

    def winners(self, limit: int = 10) -> list[tuple[str, Tally]]:
        """People who gain most under the candidate, biggest gain first."""
        gains = [(p, t) for p, t in self.by_person.items() if t.difference > 0]
        return sorted(gains, key=lambda item: (-item[1].difference, item[0]))[:limit]

    def losers(self, limit: int = 10) -> list[tuple[str, Tally]]:
        """People who lose most under the candidate, biggest loss first."""
        losses = [(p, t) for p, t in self.by_person.items() if t.difference < 0]
        return sorted(losses, key=lambda item: (item[1].difference, item[0]))[:limit]

    def to_dict(self, limit: int = 20) -> dict[str, Any]:
        """JSON-ready summary; people are limited to the top winners and losers."""

        def table(rows: dict[str, Tally]) -> dict[str, dict[str, int]]:
            return {key: rows[key].to_dict() for key in sorted(rows)}

        return {
            "active_version": self.active_version,
            "candidate_version": self.candidate_version,
            "events": self.events,
            "people": len(self.by_person),
            "awards": {"active": self.awards_active, "candidate": self.awards_candidate},
            "total": {
                "active": self.total_active,
                "candidate": self.total_candidate,
                "difference": self.inflation,
                "ratio": self.inflation_ratio,
            },
            "by_rule": table(self.by_rule),
            "by_department": table(self.by_department),
            "winners": [{"person": p, **t.to_dict()} for p, t in self.winners(limit)],
            "losers": [{"person": p, **t.to_dict()} for p, t in self.losers(limit)],
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def _own_department(event: Event) -> str:
    return event.departments[0] if event.departments else NO_DEPARTMENT


def simulate(
    events: Iterable[Event],
    active: CompiledRuleset,
    candidate: CompiledRuleset,
    tz: tzinfo | str | None = None,
    department_of: Callable[[Event], str] = _own_department,
) -> SimulationReport:
    """Score ``events`` (time-ordered) under both rule sets and compare.

    Each rule set gets its own fresh :class:`InMemoryHistory`. People are counted
    in their own department, ``event.departments[0]`` unless ``department_of``
    says otherwise.
    """
    zone = resolve_timezone(tz)
    report = SimulationReport(active_version=active.version, candidate_version=candidate.version)
    history_active, history_candidate = InMemoryHistory(), InMemoryHistory()
    by_person, by_department, by_rule = report.by_person, report.by_department, report.by_rule
    started = time.perf_counter()
    count = awards_active = awards_candidate = 0
    for event in events:
        count += 1
        actor = event.actor
        past = history_active.of(actor)
        outcome = score_event(active, event, past, zone)
        if outcome.awards or outcome.streaks or outcome.progress:
            past.record(outcome)
        active_awards = outcome.awards
        past = history_candidate.of(actor)
        outcome = score_event(candidate, event, past, zone)
        if outcome.awards or outcome.streaks or outcome.progress:
            past.record(outcome)
        candidate_awards = outcome.awards
        if not active_awards and not candidate_awards:
            continue
        person = by_person.get(actor)
        if person is None:
            person = by_person[actor] = Tally()
        name = department_of(event)
        department = by_department.get(name)
        if department is None:
            department = by_department[name] = Tally()
        for award in active_awards:
            awards_active += 1
            person.active += award.points
            department.active += award.points
            rule = by_rule.get(award.rule_id)
            if rule is None:
                rule = by_rule[award.rule_id] = Tally()
            rule.active += award.points
        for award in candidate_awards:
            awards_candidate += 1
            person.candidate += award.points
            department.candidate += award.points
            rule = by_rule.get(award.rule_id)
            if rule is None:
                rule = by_rule[award.rule_id] = Tally()
            rule.candidate += award.points
    report.events = count
    report.awards_active = awards_active
    report.awards_candidate = awards_candidate
    report.elapsed_seconds = time.perf_counter() - started
    return report
