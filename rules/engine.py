"""Compiling a rule file once, and evaluating events against it.

:func:`compile_ruleset` turns a validated :class:`~rules.schema.RuleFile` into a
:class:`CompiledRuleset`: conditions become closures, durations become
timedeltas, and rules are indexed by event type so an event only meets the
rules that name its type.

:func:`score_event` / :func:`evaluate` are pure: the same rule set, event,
history and timezone always give the same awards, and nothing is mutated. The
caller records the outcome into the history (see :mod:`rules.history`).

Order of checks for a rule, cheapest and most selective first: type (index) →
date window → excluded people → department scope → condition → milestone
(:mod:`rules.milestones`: counts, awards the levels reached, done) → streak progress
(days, weeks, or working days in ``CompiledRuleset.calendar``, :mod:`rules.workdays`)
→ first_time → once_per → cooldown → cap. Campaign multipliers run after the
ordinary rules and add ``base × (m − 1)`` as their own line, where ``base`` is
the sum of this event's positive awards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from functools import partial
from typing import Any

from rules import challenges
from rules.catalog import COMMON_NAMES, LOCAL_TIME_NAMES, AttributeType, Catalogue, EventType
from rules.conditions import CONDITION_FAILURES, Condition, compile_condition
from rules.event import Award, AwardKind, Event
from rules.history import ActorHistory, InMemoryHistory, Outcome, StreakState
from rules.index import RuleIndex
from rules.loader import load_ruleset_text
from rules.milestones import MilestonePlan, compile_milestone
from rules.milestones import advance as advance_milestone
from rules.periods import (
    Period,
    day_ordinal,
    parse_duration,
    period_key,
    resolve_timezone,
    week_ordinal,
)
from rules.schema import Rule, RuleFile
from rules.sentences import sentences as _sentences
from rules.workdays import WEEKDAYS, WorkCalendar


@dataclass(slots=True, eq=False)
class CompiledRule:
    """A rule ready for the hot loop: plain attributes, no parsing left to do."""

    id: str
    version: int
    kind: AwardKind
    title: str
    title_en: str
    points: int
    multiplier: float
    condition: Condition | None
    condition_names: frozenset[str]
    required_values: Mapping[str, frozenset[str]]
    once_attribute: str | None
    cap_per: Period | None
    cap_max: int
    cooldown: timedelta | None
    first_time: bool
    streak_days: int
    streak_weeks: int
    streak_workdays: int
    milestone: MilestonePlan | None
    departments: frozenset[str]
    exclude: frozenset[str]
    valid_from: date | None
    valid_until: date | None
    badge: str | None
    when: tuple[str, ...]
    source: Rule
    scoped: bool = False  # has a date window, exclusions or departments
    streaked: bool = False  # a streak of days, weeks or working days
    unlimited: bool = False  # a plain points rule: no history check can stop it
    # Kinds with per-person progress (rules.progress): is an award with this
    # once_value still deserved by this state? None: awards go with their event.
    keeps: Callable[[Mapping[str, Any], str | None], bool] | None = None
    challenge: Any = None  # a rules.challenges.CompiledChallenge

    def __post_init__(self) -> None:
        self.scoped = bool(self.valid_from or self.valid_until or self.exclude or self.departments)
        self.streaked = bool(self.streak_days or self.streak_weeks or self.streak_workdays)
        if self.milestone is not None:
            self.keeps = self.milestone.keeps
        self.unlimited = (
            self.kind == "points"
            and not self.first_time
            and self.once_attribute is None
            and self.cooldown is None
            and self.cap_per is None
        )

    @property
    def needs_local_time(self) -> bool:
        """Whether judging this rule needs the event's local date/time."""
        return bool(
            self.valid_from
            or self.valid_until
            or self.cap_per
            or self.streak_days
            or self.streak_weeks
            or self.streak_workdays
            or self.challenge
            or (self.condition_names & LOCAL_TIME_NAMES)
        )


_Entry = tuple[CompiledRule, Condition | None, bool]


@dataclass(slots=True)
class _TypePlan:
    """Rules for one event type plus what the context for them must contain."""

    rules: tuple[CompiledRule, ...]
    campaigns: tuple[CompiledRule, ...]
    needs_local: bool
    local_names: bool
    departments_name: bool
    event_type: EventType | None
    # Every name the type's conditions read, as None: missing attributes stay None.
    blank: dict[str, Any] = field(default_factory=dict)
    index: RuleIndex[_Entry] = field(default_factory=lambda: RuleIndex(()))
    identity_names: bool = False
    derived_names: bool = False

    def __post_init__(self) -> None:
        names = frozenset(self.blank)
        self.identity_names = bool(names & {"type", "actor", "external_id"})
        self.derived_names = self.identity_names or self.local_names or self.departments_name
        self.index = RuleIndex.build(
            tuple(
                (
                    rule,
                    rule.condition,
                    bool(rule.scoped or rule.streaked or rule.milestone or rule.challenge),
                )
                for rule in self.rules
            ),
            _required,
        )


def _required(entry: _Entry) -> Mapping[str, frozenset[str]]:
    return entry[0].required_values


@dataclass(eq=False)
class CompiledRuleset:
    """A rule file compiled for evaluation. Build once, share freely (immutable)."""

    version: int
    rules: tuple[CompiledRule, ...]
    catalogue: Catalogue
    rule_file: RuleFile
    _plans: dict[str, _TypePlan] = field(default_factory=dict, repr=False)
    # The working days `streak: {workdays: N}` counts in (see with_calendar).
    calendar: WorkCalendar = WEEKDAYS
    _capped: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict, repr=False)

    def capped_for(self, event_type: str) -> tuple[CompiledRule, ...]:
        """Rules (campaigns too) with a cap that an event of this type can count against."""
        found = self._capped.get(event_type)
        if found is None:
            plan = self._plans.get(event_type)
            rules = plan.rules + plan.campaigns if plan else ()
            found = self._capped[event_type] = tuple(r for r in rules if r.cap_per is not None)
        return found

    def rules_for(self, event_type: str) -> tuple[CompiledRule, ...]:
        """Ordinary (non-campaign) rules that score ``event_type``."""
        plan = self._plans.get(event_type)
        return plan.rules if plan else ()

    @property
    def uses_workdays(self) -> bool:
        """Whether a rule counts working days (and so needs the company calendar)."""
        return any(r.streak_workdays for r in self.rules)

    def with_calendar(self, calendar: WorkCalendar) -> CompiledRuleset:
        """The same rules counting working days in ``calendar`` (cheap: plans are shared)."""
        return self if calendar == self.calendar else replace(self, calendar=calendar)

    def get(self, rule_id: str) -> CompiledRule | None:
        """The compiled rule with this id, if present and enabled."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def _symbols(catalogue: Catalogue, event_type: str | None) -> dict[str, AttributeType]:
    symbols = dict(COMMON_NAMES)
    known = catalogue.get(event_type) if event_type else None
    if known is not None:
        symbols.update(known.attributes)
    return symbols


def _compile_rule(rule: Rule, version: int, catalogue: Catalogue) -> CompiledRule:
    when = tuple(rule.when or ())
    condition: Condition | None = None
    names: frozenset[str] = frozenset()
    required: Mapping[str, frozenset[str]] = {}
    if rule.if_ is not None:
        # Validation type-checked against every `when` type; the closure only
        # looks names up, so one compile serves them all.
        compiled = compile_condition(rule.if_, _symbols(catalogue, when[0] if when else None))
        condition, names, required = compiled.test, compiled.names, compiled.required
    challenge = challenges.compile_challenge(rule.challenge, catalogue) if rule.challenge else None
    if challenge is not None:
        kind: AwardKind = "challenge"
        when, names = challenge.when, challenge.names
    elif rule.multiplier is not None:
        kind = "campaign"
    elif rule.streak is not None:
        kind = "streak"
    elif rule.milestone is not None:
        kind = "milestone"
    elif rule.team_goal is not None:
        kind = "team_goal"  # never scored per event: points/team_goals settles it
    else:
        kind = "points"
    return CompiledRule(
        id=rule.id,
        version=version,
        kind=kind,
        title=rule.title,
        title_en=rule.title_en or rule.title,
        points=rule.points or 0,
        multiplier=rule.multiplier or 1.0,
        condition=condition,
        condition_names=names,
        required_values=required,
        once_attribute=rule.once_per.removeprefix("attributes.") if rule.once_per else None,
        cap_per=rule.cap.per if rule.cap else None,
        cap_max=rule.cap.max if rule.cap else 0,
        cooldown=parse_duration(rule.cooldown) if rule.cooldown else None,
        first_time=rule.first_time,
        streak_days=(rule.streak.days or 0) if rule.streak else 0,
        streak_weeks=(rule.streak.weeks or 0) if rule.streak else 0,
        streak_workdays=(rule.streak.workdays or 0) if rule.streak else 0,
        milestone=compile_milestone(rule.milestone) if rule.milestone else None,
        departments=frozenset(str(d) for d in rule.departments),
        exclude=frozenset(rule.exclude),
        valid_from=rule.valid.from_ if rule.valid else None,
        valid_until=rule.valid.until if rule.valid else None,
        badge=rule.badge,
        when=when,
        source=rule,
        keeps=partial(challenges.keeps, challenge) if challenge else None,
        challenge=challenge,
    )


def compile_ruleset(rules: RuleFile | str, version: int = 0) -> CompiledRuleset:
    """Compile a validated rule file (or its YAML text) for evaluation.

    ``version`` is the rule-set version the ledger will record on every award.
    Disabled rules are left out.
    """
    rule_file = load_ruleset_text(rules) if isinstance(rules, str) else rules
    catalogue = Catalogue(rule_file.event_types)
    compiled = tuple(
        _compile_rule(rule, version, catalogue) for rule in rule_file.rules if rule.enabled
    )
    ordinary = [r for r in compiled if r.kind != "campaign"]
    campaigns = [r for r in compiled if r.kind == "campaign"]

    types: list[str] = []
    for rule in ordinary:
        types.extend(t for t in rule.when if t not in types)
    plans: dict[str, _TypePlan] = {}
    for event_type in types:
        type_rules = tuple(r for r in ordinary if event_type in r.when)
        type_campaigns = tuple(r for r in campaigns if not r.when or event_type in r.when)
        everything = type_rules + type_campaigns
        names = frozenset().union(*(r.condition_names for r in everything))
        plans[event_type] = _TypePlan(
            rules=type_rules,
            campaigns=type_campaigns,
            needs_local=any(r.needs_local_time for r in everything),
            local_names=bool(names & LOCAL_TIME_NAMES),
            departments_name="departments" in names,
            event_type=catalogue.get(event_type),
            blank=dict.fromkeys(names),
        )
    return CompiledRuleset(
        version=version,
        rules=compiled,
        catalogue=catalogue,
        rule_file=rule_file,
        _plans=plans,
    )


def _add_derived_names(
    context: dict[str, Any], event: Event, plan: _TypePlan, local: datetime | None
) -> None:
    # Only computed for event types whose conditions read them.
    if plan.identity_names:
        context["type"] = event.type
        context["actor"] = event.actor
        context["external_id"] = event.external_id
    if plan.departments_name:
        context["departments"] = event.departments
    if plan.local_names and local is not None:
        context["hour"] = local.hour
        context["minute"] = local.minute
        context["weekday"] = local.isoweekday()
        context["day"] = local.day
        context["month"] = local.month
        context["year"] = local.year
        context["date"] = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        context["time"] = f"{local.hour:02d}:{local.minute:02d}"


def _in_scope(rule: CompiledRule, event: Event, local: datetime | None) -> bool:
    if local is not None and (rule.valid_from is not None or rule.valid_until is not None):
        today = local.date()
        if rule.valid_from is not None and today < rule.valid_from:
            return False
        if rule.valid_until is not None and today > rule.valid_until:
            return False
    if rule.exclude and event.actor in rule.exclude:
        return False
    return not (rule.departments and rule.departments.isdisjoint(event.departments))


def score_event(
    ruleset: CompiledRuleset,
    event: Event,
    history: ActorHistory | InMemoryHistory,
    tz: tzinfo | str | None = None,
) -> Outcome:
    """Evaluate one event: awards plus streak progress, without changing ``history``.

    ``history`` is the actor's :class:`ActorHistory` (an :class:`InMemoryHistory`
    is accepted and looked up by ``event.actor``). ``tz`` (default Asia/Shanghai)
    cuts days, ISO weeks, months and quarters.
    """
    plan = ruleset._plans.get(event.type)
    if plan is None:
        # No ordinary rule names this type, so there is no base for a campaign either.
        return Outcome([], [], [])
    past = history.of(event.actor) if isinstance(history, InMemoryHistory) else history
    if plan.needs_local:
        zone = tz if isinstance(tz, tzinfo) else resolve_timezone(tz)
        local: datetime | None = event.occurred_at.astimezone(zone)
    else:
        local = None
    context = plan.blank.copy()
    context.update(event.attributes)
    if plan.derived_names:
        _add_derived_names(context, event, plan, local)
    awards: list[Award] = []
    streaks: list[tuple[str, StreakState]] = []
    progress: list[tuple[str, dict[str, Any]]] = []
    keys: dict[str, str] = {}

    # The hot loop: (rule, condition, special) triples, so a plain rule costs one
    # tuple unpack, one condition call and nothing else unless it matches.
    entries = plan.index.select(context)
    for rule, condition, special in entries:
        if special and rule.scoped and not _in_scope(rule, event, local):
            continue
        if condition is not None:
            try:
                if not condition(context):
                    continue
            except CONDITION_FAILURES:
                continue
        if rule.unlimited:
            # Nothing to look up in history: build the award right here.
            awards.append(
                Award(
                    event.external_id,
                    event.actor,
                    rule.id,
                    rule.version,
                    rule.points,
                    event.occurred_at,
                    rule.kind,
                    rule.badge,
                    None,
                    None,
                    (_sentences, rule, plan.event_type, event.attributes, False, 0),
                )
            )
            continue
        streak_length = 0
        if special:
            # Kinds with per-person progress; plain rules never come this way.
            if rule.milestone is not None:
                awards += advance_milestone(rule, rule.milestone, event, past, progress)
                continue
            if rule.challenge is not None:
                assert local is not None
                if award := challenges.advance(rule, event, past, local, context, progress):
                    awards.append(award)
                continue
            if rule.streaked:
                assert local is not None
                streak_length = _advance_streak(rule, past, local, streaks, ruleset.calendar)
                if streak_length == 0:
                    continue
        award = _judge(rule, plan, event, past, local, keys, rule.points, streak_length)
        if award is not None:
            awards.append(award)

    if plan.campaigns and awards:
        base = sum(a.points for a in awards if a.points > 0 and a.kind != "challenge")
        if base > 0:
            for rule in plan.campaigns:
                if rule.scoped and not _in_scope(rule, event, local):
                    continue
                if rule.condition is not None:
                    try:
                        if not rule.condition(context):
                            continue
                    except CONDITION_FAILURES:
                        continue
                extra = int(base * (rule.multiplier - 1))
                if extra <= 0:
                    continue
                award = _judge(rule, plan, event, past, local, keys, extra, base)
                if award is not None:
                    awards.append(award)
    return Outcome(awards, streaks, progress)


def _advance_streak(
    rule: CompiledRule,
    past: ActorHistory,
    local: datetime,
    streaks: list[tuple[str, StreakState]],
    calendar: WorkCalendar,
) -> int:
    """Update streak progress; return the length if a multiple of N was just reached, else 0."""
    if rule.streak_days:
        period, target = day_ordinal(local), rule.streak_days
    elif rule.streak_workdays:
        workday = calendar.ordinal(local.date())
        if workday is None:
            return 0  # a day off: neither counts nor breaks
        period, target = workday, rule.streak_workdays
    else:
        period, target = week_ordinal(local), rule.streak_weeks
    state = past.streaks.get(rule.id)
    if state is None or period > state.last_period + 1:
        length = 1
    elif period == state.last_period + 1:
        length = state.length + 1
    else:
        # Same day/week again, or a late event from the past: no progress.
        return 0
    streaks.append((rule.id, StreakState(period, length)))
    return length if length % target == 0 else 0


def _judge(
    rule: CompiledRule,
    plan: _TypePlan,
    event: Event,
    past: ActorHistory,
    local: datetime | None,
    keys: dict[str, str],
    points: int,
    detail: int,
) -> Award | None:
    """Apply first_time, once_per, cooldown and cap to a matching rule; build its award.

    ``keys`` caches this event's period keys across rules.
    """
    rule_id = rule.id
    if rule.first_time and rule_id in past.rules_awarded:
        return None
    once_value: str | None = None
    if rule.once_attribute is not None:
        raw = event.attributes.get(rule.once_attribute)
        if raw is None or raw == "":
            # Without the value we cannot promise "once"; refuse rather than farm.
            return None
        once_value = str(raw)
        seen = past.once_values.get(rule_id)
        if seen is not None and once_value in seen:
            return None
    if rule.cooldown is not None:
        last = past.last_award_at.get(rule_id)
        if last is not None and abs(event.occurred_at - last) < rule.cooldown:
            return None
    key: str | None = None
    capped = False
    if rule.cap_per is not None:
        assert local is not None
        key = keys.get(rule.cap_per)
        if key is None:
            key = keys[rule.cap_per] = period_key(rule.cap_per, local)
        used = past.period_points.get((rule_id, key), 0)
        remaining = rule.cap_max - abs(used)
        if remaining <= 0:
            return None
        if abs(points) > remaining:
            points = remaining if points > 0 else -remaining
            capped = True
    # Positional: this is the hottest constructor call in a simulation.
    return Award(
        event.external_id,
        event.actor,
        rule_id,
        rule.version,
        points,
        event.occurred_at,
        rule.kind,
        rule.badge,
        key,
        once_value,
        (_sentences, rule, plan.event_type, event.attributes, capped, detail),
        rule.cooldown is not None,
        rule.first_time,
    )


def evaluate(
    ruleset: CompiledRuleset,
    event: Event,
    history: ActorHistory | InMemoryHistory,
    tz: tzinfo | str | None = None,
) -> list[Award]:
    """The awards ``event`` earns under ``ruleset`` given the actor's ``history``.

    Pure and deterministic. Streak progress is not returned here; callers that
    keep history across events should use :func:`score_event` and record its
    :class:`~rules.history.Outcome`.
    """
    return score_event(ruleset, event, history, tz).awards


def score_and_record(
    ruleset: CompiledRuleset,
    event: Event,
    history: InMemoryHistory,
    tz: tzinfo | str | None = None,
) -> list[Award]:
    """Evaluate ``event`` and record the outcome in ``history`` (simulation, tests)."""
    past = history.of(event.actor)
    outcome = score_event(ruleset, event, past, tz)
    if outcome.awards or outcome.streaks or outcome.progress:
        past.record(outcome)
    return outcome.awards
