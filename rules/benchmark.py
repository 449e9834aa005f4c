"""``points bench``: how fast the rule engine scores events in memory.

The figure is events scored per second by the real engine (default rules plus
200 generated rules — among them milestones, working-day streaks and rules awaiting
review — and a team goal, with history recorded as simulation does). The baseline,
measured in the same run on the same events, is the same conditions written by
hand as plain Python functions, indexed by event type, summing points — the
fastest a scorer of these conditions could reasonably be in Python, without any
caps, cooldowns, once-per keys or award sentences.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rules.catalog import BUILTIN_EVENT_TYPES, AttributeType
from rules.engine import CompiledRuleset, compile_ruleset, score_event
from rules.event import Event
from rules.history import InMemoryHistory
from rules.loader import load_default_rules
from rules.periods import resolve_timezone
from rules.schema import Rule, RuleFile

Check = Callable[[Mapping[str, Any]], Any]

_TEXT_VALUES: dict[str, tuple[str, ...]] = {
    "template": ("报销", "请假", "出差", "采购", "用印"),
    "decision": ("approved", "rejected"),
    "doc_type": ("doc", "sheet", "slide", "file"),
    "checkin_type": ("上班", "下班", "外出"),
    "category": ("入职", "进阶", "管理员"),
    "source": ("扫码", "搜索", "名片", "群聊"),
    "scope": ("全员", "部门"),
    "app": ("审批", "打卡", "微盘", "日程", "汇报"),
}
_TAGS = ("意向客户", "老客户", "教育行业", "续费中", "VIP")
_DEPARTMENTS = (
    ("行政部", "2", "总公司", "1"),
    ("销售部", "3", "总公司", "1"),
    ("华东销售组", "31", "销售部", "3", "总公司", "1"),
    ("财务部", "4", "总公司", "1"),
    ("市场部", "5", "总公司", "1"),
    ("技术部", "6", "总公司", "1"),
)
_ID_ATTRIBUTES = frozenset(
    {"sp_no", "doc_id", "meeting_id", "external_userid", "group_id", "announcement_id", "course_id"}
)


def _value(rng: random.Random, name: str, kind: AttributeType, serial: int) -> Any:
    if name in _ID_ATTRIBUTES:
        # A few repeats on purpose: resends must hit once_per.
        return f"{name[:2]}{serial - rng.randrange(3)}"
    if kind == "bool":
        return rng.random() < 0.7
    if kind == "int":
        return rng.randrange(0, 12)
    if kind == "float":
        return round(rng.uniform(0, 48), 1)
    if kind == "list[str]":
        return tuple(rng.sample(_TAGS, rng.randrange(0, 3)))
    if kind == "list[int]":
        return tuple(rng.randrange(10) for _ in range(3))
    values = _TEXT_VALUES.get(name)
    if values is not None:
        return rng.choice(values)
    return f"{name}-{rng.randrange(20)}"


def synthetic_events(
    count: int,
    people: int = 300,
    seed: int = 7,
    start: datetime | None = None,
    days: int = 90,
) -> list[Event]:
    """``count`` plausible, time-ordered events of the built-in types for ``people`` people."""
    return list(iter_synthetic_events(count, people, seed, start, days))


def iter_synthetic_events(
    count: int,
    people: int = 300,
    seed: int = 7,
    start: datetime | None = None,
    days: int = 90,
) -> Iterator[Event]:
    """Like :func:`synthetic_events`, generated lazily (a million events need no list)."""
    rng = random.Random(seed)
    begin = start or datetime(2026, 9, 1, tzinfo=timezone(timedelta(hours=8)))
    step = timedelta(days=days) / max(count, 1)
    types = list(BUILTIN_EVENT_TYPES.values())
    weights = [
        6 if t.name in ("checkin.recorded", "app.entered", "doc.shared") else 2 for t in types
    ]
    staff = [f"u{n:05d}" for n in range(people)]
    departments = {person: rng.choice(_DEPARTMENTS) for person in staff}
    # Join dates spread around the start, so onboarding challenges run for some people.
    joined = {p: begin.date() + timedelta(days=(n * 37) % 120 - 60) for n, p in enumerate(staff)}
    for serial in range(count):
        event_type = rng.choices(types, weights)[0]
        actor = rng.choice(staff)
        attributes = {
            name: _value(rng, name, kind, serial) for name, kind in event_type.attributes.items()
        }
        yield Event(
            external_id=f"bench:{serial}",
            type=event_type.name,
            actor=actor,
            occurred_at=begin + step * serial,
            attributes=attributes,
            departments=departments[actor],
            joined=joined[actor],
        )


@dataclass(frozen=True)
class _Clause:
    text: str
    check: Check


def _clause(rng: random.Random, name: str, kind: AttributeType) -> _Clause:
    """One condition clause, as rule text and as the hand-written equivalent."""
    if kind == "bool":
        if rng.random() < 0.5:
            return _Clause(name, lambda a: a[name])
        return _Clause(f"not {name}", lambda a: not a[name])
    if kind in ("int", "float"):
        limit = rng.randrange(1, 10) if kind == "int" else rng.randrange(1, 40)
        if rng.random() < 0.5:
            return _Clause(f"{name} > {limit}", lambda a: a[name] > limit)
        return _Clause(f"{name} <= {limit}", lambda a: a[name] <= limit)
    if kind == "list[str]":
        tag = rng.choice(_TAGS)
        return _Clause(f'"{tag}" in {name}', lambda a: tag in a[name])
    values = _TEXT_VALUES.get(name) or tuple(f"{name}-{n}" for n in range(20))
    picked = tuple(rng.sample(values, 2 if rng.random() < 0.3 else 1))
    if len(picked) == 1:
        only = picked[0]
        return _Clause(f'{name} == "{only}"', lambda a: a[name] == only)
    listed = ", ".join(f'"{v}"' for v in picked)
    members = frozenset(picked)
    return _Clause(f"{name} in [{listed}]", lambda a: a[name] in members)


def _join(checks: list[Check], joiner: str) -> Check:
    # Spelled out per length, the way a person would write them by hand.
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        if joiner == "and":
            return lambda x: a(x) and b(x)
        return lambda x: a(x) or b(x)
    a, b, c = checks
    if joiner == "and":
        return lambda x: a(x) and b(x) and c(x)
    return lambda x: a(x) or b(x) or c(x)


def generated_rules(count: int, seed: int = 11) -> list[tuple[Rule, Check | None]]:
    """``count`` varied rules over the built-in types, each with its hand-written check."""
    rng = random.Random(seed)
    types = [t for t in BUILTIN_EVENT_TYPES.values() if t.attributes]
    made: list[tuple[Rule, Check | None]] = []
    for index in range(count):
        event_type = types[index % len(types)]
        usable = [(n, k) for n, k in event_type.attributes.items() if n not in _ID_ATTRIBUTES]
        # Rules HR writes are specific ("报销 over 1000 with attachments"), so most
        # lead with a categorical clause; the rest add 0–2 clauses of any kind.
        picked = rng.sample(usable, min(len(usable), rng.randrange(1, 4)))
        categorical = [(n, k) for n, k in usable if k == "str"]
        if categorical and rng.random() < 0.8:
            first = rng.choice(categorical)
            picked = [first, *(p for p in picked if p != first)][:3]
        clauses = [_clause(rng, n, k) for n, k in picked]
        joiner = "and" if rng.random() < 0.9 else "or"
        text = f" {joiner} ".join(c.text for c in clauses)
        check = _join([c.check for c in clauses], joiner)
        fields: dict[str, Any] = {
            "id": f"generated-{index:03d}",
            "title": f"生成规则 {index}",
            "when": event_type.name,
            "if": text,
            "points": rng.randrange(1, 6),
        }
        roll = rng.random()
        if roll < 0.4:
            fields["cap"] = {
                "per": rng.choice(["day", "week", "month"]),
                "max": rng.randrange(5, 40),
            }
        ids = [n for n in event_type.attributes if n in _ID_ATTRIBUTES]
        if ids and rng.random() < 0.3:
            fields["once_per"] = f"attributes.{ids[0]}"
        if rng.random() < 0.15:
            fields["cooldown"] = rng.choice(["10m", "1h", "1d"])
        _progress_kinds(index, event_type.attributes, fields)
        made.append((Rule.model_validate(fields), check))
    return made


def _progress_kinds(
    index: int, attributes: Mapping[str, AttributeType], fields: dict[str, Any]
) -> None:
    """One rule in 20 becomes a milestone (a count, or a sum of a number attribute), one
    in 20 a working-day streak (the kinds that keep progress per person) and one in 20
    waits for HR's review. The default rules add a personal challenge (onboarding)."""
    if index % 20 == 7:
        for name in ("cap", "once_per", "cooldown", "points"):
            fields.pop(name, None)
        numbers = [n for n, k in attributes.items() if k in ("int", "float")]
        milestone: dict[str, Any] = {
            "levels": [{"at": 5, "points": 5}, {"at": 20, "points": 10, "badge": "达人"}]
        }
        if numbers and index % 40 == 7:
            milestone = {
                "sum": f"attributes.{numbers[0]}",
                "levels": [{"at": 50, "points": 5}, {"at": 200, "points": 10}],
            }
        fields["milestone"] = milestone
    elif index % 20 == 13:
        fields["streak"] = {"workdays": 5}
    elif index % 20 == 17:
        fields["review"] = {"by": "hr", "expires": "14d"}


# A department challenge: settled by a job when its window closes, so per event it
# must cost nothing (it is in the set to show that it does not).
_TEAM_GOAL = Rule.model_validate(
    {
        "id": "team-online-approvals",
        "title": "行政部线上审批挑战",
        "points": 30,
        "team_goal": {
            "departments": ["行政部"],
            "when": "approval.submitted",
            "measure": "participation",
            "target": "90%",
            "window": {"from": "2026-09-01", "days": 30},
        },
    }
)


def _default_checks() -> dict[str, Check | None]:
    # The shipped rules' conditions, written by hand.
    return {
        "approval-on-time": lambda a: a["on_time"] and a["template"] in ("报销", "请假", "出差"),
        "doc-shared": None,
        "doc-created": None,
        "first-meeting": None,
        "meeting-started": lambda a: a["attendees"] >= 2,
        "checkin-on-time": lambda a: a["on_time"],
        "checkin-streak-5": lambda a: a["on_time"],
        "customer-tagged": lambda a: a["tag_count"] >= 1,
        "customer-added": None,
        "customer-conversations": lambda a: a["chat_cnt"] >= 3,
        "meeting-attended": None,
        "onboarding-training": lambda a: a["category"] == "入职" and a["passed"],
        "approver-turnaround": lambda a: a["turnaround_hours"] <= 4,
        "pilot-feedback": None,
    }


def build(
    generated: int = 200,
) -> tuple[CompiledRuleset, dict[str, list[tuple[int, Check | None]]]]:
    """The benchmark rule set, and the same rules as hand-written checks by event type."""
    defaults = load_default_rules()
    extra = generated_rules(generated)
    rule_file = RuleFile(rules=[*defaults.rules, *(rule for rule, _ in extra), _TEAM_GOAL])
    ruleset = compile_ruleset(rule_file, version=1)
    checks = _default_checks()
    checks.update({rule.id: check for rule, check in extra})
    by_type: dict[str, list[tuple[int, Check | None]]] = {}
    for rule in rule_file.rules:
        if not rule.enabled or (rule.points is None and rule.milestone is None):
            continue
        for event_type in rule.when or ():
            # A milestone's condition is checked by hand too; its points come rarely.
            by_type.setdefault(event_type, []).append((rule.points or 0, checks[rule.id]))
    return ruleset, by_type


def _baseline(events: list[Event], by_type: dict[str, list[tuple[int, Check | None]]]) -> int:
    total = 0
    for event in events:
        attributes = event.attributes
        for points, check in by_type.get(event.type, ()):
            if check is None or check(attributes):
                total += points
    return total


def _engine(events: list[Event], ruleset: CompiledRuleset, tz: Any) -> tuple[int, int]:
    history = InMemoryHistory()
    total = awards = 0
    for event in events:
        past = history.of(event.actor)
        outcome = score_event(ruleset, event, past, tz)
        if outcome.awards or outcome.streaks or outcome.progress:
            past.record(outcome)
            for award in outcome.awards:
                total += award.points
            awards += len(outcome.awards)
    return total, awards


def _conditions_only(events: list[Event], ruleset: CompiledRuleset) -> int:
    prepared = {
        event_type: (
            rules,
            dict.fromkeys(name for rule in rules for name in rule.condition_names),
        )
        for event_type in {e.type for e in events}
        if (rules := ruleset.rules_for(event_type))
    }
    matched = 0
    for event in events:
        found = prepared.get(event.type)
        if found is None:
            continue
        rules, blank = found
        context = blank.copy()
        context.update(event.attributes)
        for rule in rules:
            if rule.condition is None or rule.condition(context):
                matched += 1
    return matched


def run(quick: bool = False) -> dict[str, Any]:
    """Measure engine throughput against hand-written Python; quick mode takes ~1–2 s."""
    count = 30_000 if quick else 200_000
    rounds = 3
    ruleset, by_type = build()
    events = synthetic_events(count)
    tz = resolve_timezone(None)
    best_engine = best_baseline = best_conditions = float("inf")
    total = awards = 0
    for _ in range(rounds):
        started = time.perf_counter()
        total, awards = _engine(events, ruleset, tz)
        best_engine = min(best_engine, time.perf_counter() - started)
        started = time.perf_counter()
        _baseline(events, by_type)
        best_baseline = min(best_baseline, time.perf_counter() - started)
        started = time.perf_counter()
        _conditions_only(events, ruleset)
        best_conditions = min(best_conditions, time.perf_counter() - started)
    figure = count / best_engine
    baseline = count / best_baseline
    return {
        "name": "rule evaluation",
        "unit": "events/s",
        "figure": round(figure),
        "baseline": round(baseline),
        "ratio": round(figure / baseline, 3),
        "details": {
            "events": count,
            "rules": len(ruleset.rules),
            "generated_rules": 200,
            "awards": awards,
            "points": total,
            "awards_per_event": round(awards / count, 2),
            "engine_seconds": round(best_engine, 3),
            # Compiled conditions alone (every rule of the type, no index, no
            # history) against the hand-written ones: the cost of not using eval.
            "conditions_only_ratio": round(best_baseline / best_conditions, 3),
            "baseline_seconds": round(best_baseline, 3),
            "rounds": rounds,
            "baseline_is": "same conditions as hand-written Python functions, no caps/history",
        },
    }
