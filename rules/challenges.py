"""Personal challenges: every goal met inside a window earns the rule's award once.

A challenge rule reads::

    - id: onboarding
      title: 新手任务
      challenge:
        window: {days: 30, starts: joined}      # joined | first_event | 2026-12-01
        goals:
          - {title: 首次线上提交审批, when: approval.submitted, count: 1}
          - {when: doc.shared, if: "'销售部' in departments", count: 2}
      points: 30
      badge: 新手毕业

The person's progress is kept in :attr:`rules.history.ActorHistory.progress` under
the rule id, as plain JSON (see :mod:`rules.progress`)::

    {"start": "2026-11-02", "counts": [3, 2, 0], "mine": [true, true, true]}

``counts`` are the matching events per goal inside the window (what each event adds,
so a revoked one is taken out again), ``mine`` says which goals the person has (a goal
may be for some departments only). The award stays while :func:`keeps` holds: a
revoked event takes it back only if a goal falls below its target. Nothing here
touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from rules.catalog import COMMON_NAMES, AttributeType, Catalogue
from rules.conditions import (
    CONDITION_FAILURES,
    Condition,
    ConditionError,
    check_condition,
    compile_condition,
    suggest,
)
from rules.event import Award, Event
from rules.history import ActorHistory
from rules.schema import Challenge, Rule
from rules.source import Path_, RuleError, line_of


class ChallengeRule(Protocol):
    """What this module reads of a compiled rule (a :class:`rules.engine.CompiledRule`)."""

    id: str
    version: int
    title: str
    title_en: str
    points: int
    badge: str | None
    challenge: Any


STARTS = ("joined", "first_event")

State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Goal:
    """One compiled goal line."""

    title: str
    title_en: str
    when: frozenset[str]
    condition: Condition | None
    names: frozenset[str]
    count: int
    departments: frozenset[str]

    def applies_to(self, departments: Sequence[str]) -> bool:
        """Whether a person in ``departments`` (names and ids, with ancestors) has this goal."""
        return not self.departments or not self.departments.isdisjoint(departments)


@dataclass(frozen=True, slots=True)
class CompiledChallenge:
    """A challenge ready for evaluation."""

    days: int
    starts: str  # "joined", "first_event" or "date"
    start_date: date | None
    goals: tuple[Goal, ...]
    # Event type → positions of the goals it counts for: an event meets only its own
    # goals (advance runs for every event of these types, mostly outside any window).
    goals_by_type: Mapping[str, tuple[int, ...]]

    @property
    def when(self) -> tuple[str, ...]:
        """Every event type a goal counts, in goal order."""
        found: list[str] = []
        for goal in self.goals:
            found.extend(t for t in sorted(goal.when) if t not in found)
        return tuple(found)

    @property
    def names(self) -> frozenset[str]:
        """Every name the goals' conditions read."""
        return frozenset().union(*(g.names for g in self.goals))


def parse_start(value: date | str) -> tuple[str, date | None]:
    """``(kind, date)`` for a window's ``starts``; raises ValueError for anything else."""
    if isinstance(value, date):
        return "date", value
    if value in STARTS:
        return value, None
    return "date", date.fromisoformat(value)


def compile_challenge(spec: Challenge, catalogue: Catalogue) -> CompiledChallenge:
    """Compile a validated challenge (conditions become closures)."""
    goals = []
    for goal in spec.goals:
        types = sorted(set(goal.when))
        known = catalogue.get(types[0])
        condition: Condition | None = None
        names: frozenset[str] = frozenset()
        if goal.if_ is not None:
            symbols: dict[str, AttributeType] = dict(COMMON_NAMES)
            if known is not None:
                symbols.update(known.attributes)
            compiled = compile_condition(goal.if_, symbols)
            condition, names = compiled.test, compiled.names
        title = goal.title or (known.title_zh if known and known.title_zh else types[0])
        title_en = goal.title_en or (known.title_en if known and known.title_en else title)
        if goal.count > 1 and not goal.title:
            title, title_en = f"{title} ×{goal.count}", f"{title_en} ×{goal.count}"
        goals.append(
            Goal(
                title,
                title_en,
                frozenset(types),
                condition,
                names,
                goal.count,
                frozenset(str(d) for d in goal.departments),
            )
        )
    kind, start = parse_start(spec.window.starts)
    by_type: dict[str, tuple[int, ...]] = {}
    for index, compiled_goal in enumerate(goals):
        for event_type in sorted(compiled_goal.when):
            by_type[event_type] = (*by_type.get(event_type, ()), index)
    return CompiledChallenge(spec.window.days, kind, start, tuple(goals), by_type)


def window_start(
    challenge: CompiledChallenge, joined: date | None, state: State | None
) -> date | None:
    """The first day of the person's window, if it has started."""
    if challenge.starts == "joined":
        return joined
    if challenge.starts == "date":
        return challenge.start_date
    started = state.get("start") if state else None
    return date.fromisoformat(started) if isinstance(started, str) else None


def _counts(challenge: CompiledChallenge, state: State | None) -> list[int]:
    stored = state.get("counts") if state else None
    counts = [int(n) for n in stored] if isinstance(stored, list) else []
    # HR may have added or removed goals since: keep what lines up, by position.
    counts = counts[: len(challenge.goals)]
    return counts + [0] * (len(challenge.goals) - len(counts))


def _mine(challenge: CompiledChallenge, departments: Sequence[str]) -> list[bool]:
    return [goal.applies_to(departments) for goal in challenge.goals]


def met(challenge: CompiledChallenge, counts: Sequence[int], mine: Sequence[bool]) -> bool:
    """Whether every goal the person has (``mine``) has reached its target."""
    return all(
        n >= goal.count for n, goal, has in zip(counts, challenge.goals, mine, strict=True) if has
    )


def keeps(challenge: CompiledChallenge, state: Mapping[str, Any], _once: str | None) -> bool:
    """Whether a (lowered) state still deserves the award: every goal still at its target."""
    mine = state.get("mine")
    has = [bool(x) for x in mine] if isinstance(mine, list) else [True] * len(challenge.goals)
    has = (has + [True] * len(challenge.goals))[: len(challenge.goals)]
    return met(challenge, _counts(challenge, dict(state)), has)


def advance(
    rule: ChallengeRule,
    event: Event,
    past: ActorHistory,
    local: datetime,
    context: Mapping[str, Any],
    progress: list[tuple[str, State]],
) -> Award | None:
    """Count ``event`` towards the rule's goals; the award when it completes the challenge.

    The award comes when the goals go from not all met to all met: once, since counts
    only grow — unless a revoked event lowered them (and its award went back), when
    meeting them again inside the window earns it again. New progress is appended to
    ``progress`` (nothing is changed in ``past``).
    """
    challenge: CompiledChallenge = rule.challenge
    # Most events of these types fall outside the person's window: decide that first,
    # reading the stored state only when the window's start lives in it.
    first_event = challenge.starts == "first_event"
    state = past.progress.get(rule.id) if first_event else None
    start = window_start(challenge, event.joined, state)
    day = local.date()
    if start is None:
        if not first_event:
            return None  # e.g. nobody knows when this person joined
    elif not 0 <= day.toordinal() - start.toordinal() < challenge.days:
        return None
    departments = event.departments
    matched = []
    for index in challenge.goals_by_type.get(event.type, ()):
        goal = challenge.goals[index]
        if not goal.applies_to(departments):
            continue
        if goal.condition is not None:
            try:
                if not goal.condition(context):
                    continue
            except CONDITION_FAILURES:
                continue
        matched.append(index)
    if not matched:
        return None
    if not first_event:
        state = past.progress.get(rule.id)
    if start is None:
        start = day  # first_event: this event opens the window
    mine = _mine(challenge, departments)
    before = _counts(challenge, state)
    counts = [n + (1 if i in matched else 0) for i, n in enumerate(before)]
    award = None
    if met(challenge, counts, mine) and not met(challenge, before, mine):
        award = Award(
            event.external_id,
            event.actor,
            rule.id,
            rule.version,
            rule.points,
            event.occurred_at,
            "challenge",
            rule.badge,
            None,
            None,
            (_sentences, rule, (day - start).days + 1),
        )
    # Numbers are what events add (rules.progress); the start and whose goals are set.
    progress.append((rule.id, {"start": start.isoformat(), "counts": counts, "mine": mine}))
    return award


def _sentences(award: Award, rule: ChallengeRule, day: int) -> tuple[str, str]:
    """``完成挑战：新手任务 · 第 12 天完成`` / ``Challenge completed: … · on day 12``."""
    return (
        f"完成挑战：{rule.title} · 第 {day} 天完成",
        f"Challenge completed: {rule.title_en} · on day {day}",
    )


@dataclass(frozen=True, slots=True)
class GoalProgress:
    """One line of a person's checklist."""

    title: str
    title_en: str
    count: int
    target: int

    @property
    def met(self) -> bool:
        return self.count >= self.target

    @property
    def shown(self) -> int:
        """The count as shown: never more than the target."""
        return min(self.count, self.target)


@dataclass(frozen=True, slots=True)
class ChallengeProgress:
    """Where a person stands in one challenge."""

    rule_id: str
    title: str
    title_en: str
    points: int
    badge: str | None
    starts: str
    start: date | None
    end: date | None  # the window's last day
    goals: tuple[GoalProgress, ...]
    done: bool

    @property
    def met_goals(self) -> int:
        return sum(1 for g in self.goals if g.met)

    @property
    def percent(self) -> int:
        return 100 * self.met_goals // len(self.goals) if self.goals else 100

    def days_left(self, today: date) -> int | None:
        """Days left including today (0 once over); None before the window starts."""
        if self.end is None or self.start is None or today < self.start:
            return None
        return max(0, (self.end - today).days + 1)


def progress_of(
    rule: ChallengeRule,
    state: State | None,
    joined: date | None,
    departments: Sequence[str],
) -> ChallengeProgress:
    """The person's standing in a challenge rule, from their stored progress."""
    challenge: CompiledChallenge = rule.challenge
    start = window_start(challenge, joined, state)
    counts = _counts(challenge, state)
    mine = _mine(challenge, departments)
    goals = tuple(
        GoalProgress(goal.title, goal.title_en, counts[i], goal.count)
        for i, goal in enumerate(challenge.goals)
        if mine[i]
    )
    return ChallengeProgress(
        rule.id,
        rule.title,
        rule.title_en,
        rule.points,
        rule.badge,
        challenge.starts,
        start,
        start + timedelta(days=challenge.days - 1) if start else None,
        goals,
        bool(state) and met(challenge, counts, mine),
    )


# ----------------------------------------------------------------------- validation

HINT = "write challenge: {window: {days: 30, starts: joined}, goals: [{when: …, count: N}]}"
_NOT_WITH = ("multiplier", "streak", "first_time", "once_per", "cap", "cooldown", "when", "if")


def check(
    rule: Rule, catalogue: Catalogue, base: Path_, lines: Mapping[Path_, int]
) -> list[RuleError]:
    """Problems of a challenge rule that need more than its shape (see rules.loader)."""
    assert rule.challenge is not None
    errors: list[RuleError] = []

    def err(message: str, path: Path_, field: str, suggestion: str | None = None) -> None:
        errors.append(
            RuleError(message, line_of(lines, (*base, *path)), rule.id, field, suggestion)
        )

    given = rule.model_dump(by_alias=True, exclude_defaults=True)
    for name in _NOT_WITH:
        if name in given:
            hint = "put `when` and `if` in each goal" if name in ("when", "if") else None
            err(f"a challenge cannot also have `{name}`", (name,), name, hint)
    if rule.points is None:
        err("a challenge needs `points`", ("points",), "points", "add e.g. points: 30")
    elif rule.points < 0:
        err("a challenge awards points, it cannot take them", ("points",), "points")
    elif rule.points == 0 and not rule.badge:
        err("0 points without a badge awards nothing", ("points",), "points")
    valid = rule.valid
    if valid is not None and valid.from_ and valid.until and valid.from_ > valid.until:
        err(f"`from` {valid.from_} is after `until` {valid.until}", ("valid",), "valid")
    window = rule.challenge.window
    try:
        parse_start(window.starts)
    except ValueError:
        close = suggest(str(window.starts), STARTS)
        looks_like_date = str(window.starts)[:1].isdigit()
        err(
            f"`starts` must be joined, first_event or a date, got {window.starts!r}",
            ("challenge", "window", "starts"),
            "challenge.window.starts",
            f"did you mean `{close}`?"
            if close and not looks_like_date
            else "write a date like 2026-12-01",
        )
    goals = rule.challenge.goals
    if not goals:
        err(
            "a challenge needs at least one goal",
            ("challenge", "goals"),
            "challenge.goals",
            "add goals: [{when: approval.submitted, count: 1}]",
        )
    for index, goal in enumerate(goals):
        at: Path_ = ("challenge", "goals", index)
        field = f"challenge.goals[{index}]"
        known: list[str | None] = []
        for position, event_type in enumerate(goal.when):
            if catalogue.get(event_type) is None:
                close = suggest(event_type, catalogue.names())
                err(
                    f"unknown event type `{event_type}`",
                    (*at, "when", position),
                    f"{field}.when",
                    f"did you mean `{close}`?" if close else "declare it under event_types",
                )
                known.append(close)
            else:
                known.append(event_type)
        if goal.if_ is None:
            continue
        for checked in known:
            if checked is None:
                continue
            symbols: dict[str, AttributeType] = dict(COMMON_NAMES)
            found = catalogue.get(checked)
            if found is not None:
                symbols.update(found.attributes)
            try:
                check_condition(goal.if_, symbols)
            except ConditionError as problem:
                hint = f"did you mean `{problem.suggestion}`?" if problem.suggestion else None
                err(problem.message, (*at, "if"), f"{field}.if", hint)
                break
    return errors
