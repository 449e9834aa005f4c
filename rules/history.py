"""What the engine needs to know about a person's past, as plain data.

The engine never looks anything up: the caller hands it an :class:`ActorHistory`.
Simulation and tests keep one per person in an :class:`InMemoryHistory` and call
:meth:`InMemoryHistory.record` after each event. The database-backed scorer builds
the same object from ledger rows with :func:`history_from_ledger`:

=====================  ==========================================================
field                  filled from
=====================  ==========================================================
``period_points``      sum of the person's entries per rule id and period key
                       (``Award.period_key`` stored on the entry, or recomputed
                       with :func:`rules.periods.period_key_at` for the rule's cap)
``last_award_at``      latest ``occurred_at`` of the person's entries per rule id,
                       for rules with a cooldown (``Award.cooldown``)
``once_values``        ``Award.once_value`` of the person's entries per rule id
``rules_awarded``      rule ids the person has any entry for, for ``first_time``
                       rules (``Award.first_time``)
``streaks``            :class:`StreakState` per streak rule id; it changes on every
                       matching event, not only on awards, so the scorer stores the
                       ``Outcome.streaks`` it gets back (a small table or JSON column)
``progress``           a JSON-able state per rule id for kinds that count towards
                       something (milestone counts, challenge goals); the scorer
                       stores the ``Outcome.progress`` it gets back, and what each
                       event added (see :mod:`rules.progress`) so a revoked event's
                       contribution can be taken out again
=====================  ==========================================================

Entries that were reversed should be left out (or netted) by the caller; the
engine counts whatever it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rules.event import Award


@dataclass(slots=True)
class StreakState:
    """Progress of one streak rule: the last local day/week ordinal with a
    matching event and how many consecutive ones lead up to it."""

    last_period: int
    length: int


@dataclass(slots=True)
class ActorHistory:
    """One person's past, as far as the rules care. Plain dicts and sets, no I/O."""

    period_points: dict[tuple[str, str], int] = field(default_factory=dict)
    last_award_at: dict[str, datetime] = field(default_factory=dict)
    once_values: dict[str, set[str]] = field(default_factory=dict)
    rules_awarded: set[str] = field(default_factory=set)
    streaks: dict[str, StreakState] = field(default_factory=dict)
    # Rule id → JSON-able state. The engine never changes a state in place: a new
    # state is a new dict, so states may be shared between histories and outcomes.
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record_award(self, award: Award) -> None:
        """Remember one award (what writing its ledger entry means for history)."""
        rule_id = award.rule_id
        if award.period_key is not None:
            key = (rule_id, award.period_key)
            self.period_points[key] = self.period_points.get(key, 0) + award.points
        if award.cooldown:
            last = self.last_award_at.get(rule_id)
            if last is None or award.occurred_at > last:
                self.last_award_at[rule_id] = award.occurred_at
        if award.once_value is not None:
            values = self.once_values.get(rule_id)
            if values is None:
                self.once_values[rule_id] = {award.once_value}
            else:
                values.add(award.once_value)
        if award.first_time:
            self.rules_awarded.add(rule_id)

    def record(self, outcome: Outcome | Iterable[Award]) -> None:
        """Remember an evaluation's awards and, for an :class:`Outcome`, its progress."""
        if isinstance(outcome, Outcome):
            awards: Iterable[Award] = outcome.awards
            # The engine makes a new state object for every change and never touches
            # it again, so the history can keep the very object (no copy).
            if outcome.streaks:
                self.streaks.update(outcome.streaks)
            if outcome.progress:
                self.progress.update(outcome.progress)
        else:
            awards = outcome
        # record_award inlined: this runs once per award in simulations of millions.
        period_points, last_award_at = self.period_points, self.last_award_at
        once_values, awarded = self.once_values, self.rules_awarded
        for award in awards:
            rule_id = award.rule_id
            period_key = award.period_key
            if period_key is not None:
                key = (rule_id, period_key)
                period_points[key] = period_points.get(key, 0) + award.points
            if award.cooldown:
                last = last_award_at.get(rule_id)
                if last is None or award.occurred_at > last:
                    last_award_at[rule_id] = award.occurred_at
            once_value = award.once_value
            if once_value is not None:
                values = once_values.get(rule_id)
                if values is None:
                    once_values[rule_id] = {once_value}
                else:
                    values.add(once_value)
            if award.first_time:
                awarded.add(rule_id)

    def copy(self) -> ActorHistory:
        """A deep copy, so a what-if evaluation can be thrown away."""
        return ActorHistory(
            period_points=dict(self.period_points),
            last_award_at=dict(self.last_award_at),
            once_values={k: set(v) for k, v in self.once_values.items()},
            rules_awarded=set(self.rules_awarded),
            streaks={k: StreakState(v.last_period, v.length) for k, v in self.streaks.items()},
            progress=deepcopy(self.progress),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for debugging and storing streak state)."""
        return {
            "period_points": [[r, p, n] for (r, p), n in sorted(self.period_points.items())],
            "last_award_at": {k: v.isoformat() for k, v in sorted(self.last_award_at.items())},
            "once_values": {k: sorted(v) for k, v in sorted(self.once_values.items())},
            "rules_awarded": sorted(self.rules_awarded),
            "streaks": {
                k: {"last_period": v.last_period, "length": v.length}
                for k, v in sorted(self.streaks.items())
            },
            "progress": {k: deepcopy(v) for k, v in sorted(self.progress.items())},
        }


@dataclass(slots=True)
class Outcome:
    """Everything one evaluation produced: awards, and progress to keep.

    ``progress`` lists the rule states this event changed (rule id, new state).
    """

    awards: list[Award]
    streaks: list[tuple[str, StreakState]]
    progress: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether recording this outcome changes the history at all."""
        return bool(self.awards or self.streaks or self.progress)


class InMemoryHistory:
    """Histories of many people, kept in memory (simulation, tests, demos)."""

    __slots__ = ("actors",)

    def __init__(self) -> None:
        self.actors: dict[str, ActorHistory] = {}

    def of(self, actor: str) -> ActorHistory:
        """The history of ``actor`` (created empty on first use)."""
        history = self.actors.get(actor)
        if history is None:
            history = self.actors[actor] = ActorHistory()
        return history

    def record(self, actor: str, outcome: Outcome | Iterable[Award]) -> None:
        """Remember what an evaluation for ``actor`` produced."""
        self.of(actor).record(outcome)

    def copy(self) -> InMemoryHistory:
        """A deep copy."""
        clone = InMemoryHistory()
        clone.actors = {actor: h.copy() for actor, h in self.actors.items()}
        return clone


class LedgerFact(Protocol):
    """The columns of a ledger entry that history needs (an :class:`Award` fits)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def points(self) -> int: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def period_key(self) -> str | None: ...
    @property
    def once_value(self) -> str | None: ...


def history_from_ledger(
    entries: Iterable[LedgerFact],
    streaks: Mapping[str, StreakState] | None = None,
    progress: Mapping[str, Mapping[str, Any]] | None = None,
) -> ActorHistory:
    """Build one person's history from their ledger entries and stored streak and
    progress states.

    Feed the entries of the current quarter at least (the longest cap period) plus,
    for ``once_per`` and ``first_time``, older entries of rules that use them. Facts
    that say whether their rule has a cooldown or is first_time (an :class:`Award`)
    are remembered as :meth:`ActorHistory.record` would; others (ledger rows) in full.
    """
    history = ActorHistory()
    for entry in entries:
        rule_id = entry.rule_id
        if entry.period_key is not None:
            key = (rule_id, entry.period_key)
            history.period_points[key] = history.period_points.get(key, 0) + entry.points
        last = history.last_award_at.get(rule_id)
        if getattr(entry, "cooldown", True) and (last is None or entry.occurred_at > last):
            history.last_award_at[rule_id] = entry.occurred_at
        if entry.once_value is not None:
            history.once_values.setdefault(rule_id, set()).add(entry.once_value)
        if getattr(entry, "first_time", True):
            history.rules_awarded.add(rule_id)
    for rule_id, state in (streaks or {}).items():
        history.streaks[rule_id] = StreakState(state.last_period, state.length)
    for rule_id, saved in (progress or {}).items():
        history.progress[rule_id] = deepcopy(dict(saved))
    return history
