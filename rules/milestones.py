"""Milestones: levels of a running count (or sum) of matching events, each awarded once.

``milestone: {levels: [{at: 10, points: 10, badge: 分享达人·铜}, {at: 50, …}]}``
counts the person's matching events (or adds up ``sum: attributes.X``) in the
progress store (:mod:`rules.progress`) as ``{"total": n}``. A level is awarded by
the event that takes the total from below ``at`` to ``at`` or more — one award per
level, its ``once_value`` the level (``"50"``), so a history that already holds the
level (a replay) never gives it twice.

A person holds a level while their total is at or above it: when a revoked event
takes the total below a level, that level's award is taken back
(:func:`keeps`), whichever event made it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rules.catalog import Catalogue
from rules.conditions import suggest
from rules.event import Award, Event
from rules.history import ActorHistory
from rules.schema import Milestone, Rule
from rules.source import Path_, RuleError, line_of


class CompiledRule(Protocol):
    """What a milestone reads of its compiled rule (``rules.engine.CompiledRule``)."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def title_en(self) -> str: ...


# Tier names by position when a level does not name its own.
_TIERS = (("铜牌", "bronze"), ("银牌", "silver"), ("金牌", "gold"), ("钻石", "diamond"))


def tier_names(position: int) -> tuple[str, str]:
    """Default tier of the level at ``position`` (0-based): 铜牌/bronze, 银牌/silver, …"""
    if position < len(_TIERS):
        return _TIERS[position]
    return f"第 {position + 1} 级", f"level {position + 1}"


def level_key(at: float) -> str:
    """The level as stored in ``once_value``: ``10``, ``2.5``."""
    return f"{at:g}"


def ordinal_en(n: float) -> str:
    """``1st``, ``22nd``, ``50th`` (a non-whole number stays as it is)."""
    if n != int(n):
        return f"{n:g}"
    whole = int(n)
    suffix = "th" if 10 <= whole % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


@dataclass(frozen=True, slots=True)
class Level:
    at: float
    points: int
    badge: str | None
    tier: str
    tier_en: str

    @property
    def key(self) -> str:
        return level_key(self.at)


@dataclass(frozen=True, slots=True)
class MilestonePlan:
    """A compiled ``milestone``: its levels (ascending) and what it adds up."""

    levels: tuple[Level, ...]
    sum_attribute: str | None = None

    def keeps(self, state: Mapping[str, Any], once_value: str | None) -> bool:
        """Whether an award for level ``once_value`` is still held at this state."""
        if once_value is None:
            return True
        try:
            at = float(once_value)
        except ValueError:
            return True
        total = state.get("total", 0)
        return isinstance(total, int | float) and total >= at

    def level(self, key: str | None) -> Level | None:
        return next((lv for lv in self.levels if lv.key == key), None)


def compile_milestone(spec: Milestone) -> MilestonePlan:
    levels = []
    for position, level in enumerate(spec.levels):
        tier, tier_en = tier_names(position)
        levels.append(
            Level(
                at=level.at,
                points=level.points,
                badge=level.badge,
                tier=level.tier or tier,
                tier_en=level.tier_en or level.tier or tier_en,
            )
        )
    attribute = spec.sum.removeprefix("attributes.") if spec.sum else None
    return MilestonePlan(tuple(levels), attribute)


def sentences(award: Award, rule: CompiledRule, level: Level, summed: bool) -> tuple[str, str]:
    """``第 50 次分享文档 · 银牌`` / ``50th shared document · silver``."""
    if summed:
        zh = f"{rule.title}累计达到 {level.at:g} · {level.tier}"
        en = f"{rule.title_en}: {level.at:g} in total · {level.tier_en}"
    else:
        zh = f"第 {level.at:g} 次{rule.title} · {level.tier}"
        en = f"{ordinal_en(level.at)} {rule.title_en} · {level.tier_en}"
    return zh, en


def advance(
    rule: CompiledRule,
    plan: MilestonePlan,
    event: Event,
    past: ActorHistory,
    progress: list[tuple[str, dict[str, Any]]],
) -> list[Award]:
    """Count this event towards the rule's total; the levels it reaches (usually none)."""
    if plan.sum_attribute is None:
        amount: float = 1
    else:
        raw = event.attributes.get(plan.sum_attribute)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            return []  # nothing to add: no progress, no award
        amount = raw
    state = past.progress.get(rule.id)
    before = state.get("total", 0) if state else 0
    if not isinstance(before, int | float):
        before = 0
    after = before + amount
    progress.append((rule.id, {"total": after}))
    held = past.once_values.get(rule.id)
    awards: list[Award] = []
    for level in plan.levels:
        if level.at > after:
            break
        if before >= level.at or (held is not None and level.key in held):
            continue
        awards.append(
            Award(
                event.external_id,
                event.actor,
                rule.id,
                rule.version,
                level.points,
                event.occurred_at,
                "milestone",
                level.badge,
                None,
                level.key,
                (sentences, rule, level, plan.sum_attribute is not None),
            )
        )
    return awards


# --------------------------------------------------------------------- validation

# Fields that make no sense next to `milestone` (each level is awarded once already).
_NOT_WITH = ("points", "multiplier", "streak", "first_time", "once_per", "cap", "cooldown")
_LEVELS_HINT = "write milestone: {levels: [{at: 10, points: 10, badge: 分享达人·铜}, …]}"


def check_milestone(
    rule: Rule,
    catalogue: Catalogue,
    known_types: Sequence[str | None],
    base: Path_,
    lines: Mapping[Path_, int],
) -> list[RuleError]:
    """The milestone's problems: what it is combined with, its levels, what it sums."""
    spec = rule.milestone
    assert spec is not None
    errors: list[RuleError] = []

    def err(message: str, path: Path_, field: str, suggestion: str | None = None) -> None:
        errors.append(
            RuleError(message, line_of(lines, (*base, *path)), rule.id, field, suggestion)
        )

    present = rule.model_dump(exclude_defaults=True)
    for name in _NOT_WITH:
        if name in present:
            hint = (
                "give each level its own points"
                if name == "points"
                else "each level is awarded once already"
            )
            err(f"`{name}` does not go with `milestone`", (name,), name, hint)
    if not rule.when:
        err(
            "a milestone must say which event types it counts",
            ("milestone",),
            "when",
            "add e.g. when: doc.shared",
        )
    previous: float | None = None
    for index, level in enumerate(spec.levels):
        path = ("milestone", "levels", index)
        field = f"milestone.levels[{index}]"
        if previous is not None and level.at <= previous:
            err(
                f"levels must go up: `at: {level.at:g}` comes after `at: {previous:g}`",
                (*path, "at"),
                f"{field}.at",
                "list the levels from the smallest `at` to the largest",
            )
        previous = level.at
        if level.points == 0 and not level.badge:
            err(
                f"the level at {level.at:g} awards nothing",
                path,
                field,
                "give it points or a badge",
            )
        if spec.sum is None and level.at != int(level.at):
            err(
                f"a count reaches whole numbers only, got `at: {level.at:g}`",
                (*path, "at"),
                f"{field}.at",
                "use a whole number, or `sum: attributes.X` to add up a number",
            )
    if spec.sum is not None:
        attribute = spec.sum.removeprefix("attributes.")
        for scored_type in known_types:
            known = catalogue.get(scored_type) if scored_type else None
            symbols = dict(known.attributes) if known is not None else {}
            kind = symbols.get(attribute)
            if kind is None:
                close = suggest(attribute, list(symbols))
                err(
                    f"`{spec.sum}` is not an attribute of `{scored_type or 'every event'}`",
                    ("milestone", "sum"),
                    "milestone.sum",
                    f"did you mean `attributes.{close}`?" if close else None,
                )
                break
            if kind not in ("int", "float"):
                numbers = [n for n, k in symbols.items() if k in ("int", "float")]
                close = suggest(attribute, numbers, cutoff=0.0) if numbers else None
                err(
                    f"`{spec.sum}` is {kind}, not a number: only numbers add up",
                    ("milestone", "sum"),
                    "milestone.sum",
                    f"did you mean `attributes.{close}`?" if close else "count events instead",
                )
                break
    return errors
