"""Reading rule files and validating them in terms HR can act on.

Every problem becomes one :class:`RuleError` that prints as one line naming the
line number, the rule id, the field and, where we can guess it, a suggestion::

    line 7: rule `approval-on-time`, field `if`: unknown field `on_tme` — did you mean `on_time`?
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules import challenges
from rules.catalog import (
    ATTRIBUTE_NAME_PATTERN,
    ATTRIBUTE_TYPES,
    BUILTIN_EVENT_TYPES,
    COMMON_NAMES,
    EVENT_TYPE_PATTERN,
    AttributeType,
    Catalogue,
)
from rules.conditions import ConditionError, check_condition, suggest
from rules.milestones import check_milestone
from rules.periods import PERIODS, parse_duration
from rules.review import REVIEW_HINT, REVIEWERS, check_review
from rules.schema import (
    CHALLENGE_FIELDS,
    CHALLENGE_WINDOW_FIELDS,
    GOAL_FIELDS,
    LEVEL_FIELDS,
    MILESTONE_FIELDS,
    NESTED_FIELDS,
    RULE_FIELDS,
    TOP_LEVEL_FIELDS,
    Rule,
    RuleFile,
)
from rules.source import Path_, RuleError, RuleSetError, line_of, parse_yaml
from rules.team_goals import MEASURES, TEAM_GOAL_HINT, check_team_goal

# --------------------------------------------------------------------- validation

_PYDANTIC_MESSAGES = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "date_type": "expected a date like 2026-12-01",
    "date_parsing": "expected a date like 2026-12-01",
    "date_from_datetime_parsing": "expected a date like 2026-12-01",
    "date_from_datetime_inexact": "expected a date like 2026-12-01",
}

_FIELD_HINTS = {
    "cap": "write cap: {per: day|week|month|quarter, max: N}",
    "cap.per": "write cap: {per: day|week|month|quarter, max: N}",
    "cap.max": "write cap: {per: day|week|month|quarter, max: N}",
    "streak": "write streak: {days: N}, {weeks: N} or {workdays: N}",
    "milestone": "write milestone: {levels: [{at: 10, points: 10, badge: 分享达人·铜}, …]}",
    "valid": "write valid: {from: 2026-12-01, until: 2026-12-31}",
    "id": "use letters, digits, `-`, `_` or `.`, e.g. approval-on-time",
    "when": "write an event type like approval.submitted, or a list of them",
    "departments": "list department names or ids, e.g. [销售部, 12]",
    "exclude": "list userids, e.g. [robot01, admin]",
    "review": REVIEW_HINT,
    "team_goal": TEAM_GOAL_HINT,
    "challenge": challenges.HINT,
}
# The choices of fields with a fixed set of values, by field name.
_CHOICES: dict[str, tuple[str, ...]] = {"per": PERIODS, "by": REVIEWERS, "measure": MEASURES}


def _fields_for(loc: tuple[Any, ...]) -> tuple[str, ...]:
    parent = loc[0] if len(loc) > 1 else None
    if parent == "milestone" and len(loc) > 3 and loc[1] == "levels":
        return LEVEL_FIELDS
    dotted = ".".join(str(p) for p in loc[:-1] if not isinstance(p, int))
    return {
        **NESTED_FIELDS,
        "milestone": MILESTONE_FIELDS,
        "challenge": CHALLENGE_FIELDS,
        "challenge.window": CHALLENGE_WINDOW_FIELDS,
        "challenge.goals": GOAL_FIELDS,
    }.get(dotted, RULE_FIELDS)


def _field_name(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = "from" if part == "from_" else part
            text = f"{text}.{part}" if text else str(part)
    return text


def _pydantic_errors(
    error: ValidationError, rule_id: str, base: Path_, lines: Mapping[Path_, int]
) -> list[RuleError]:
    found: list[RuleError] = []
    for item in error.errors():
        loc = tuple(item["loc"])
        kind = item["type"]
        # Union members (``StrictStr | StrictInt``) each report; keep the field once.
        if len(loc) >= 2 and isinstance(loc[-1], str) and loc[-1] in ("str", "int"):
            loc = loc[:-1]
        field = _field_name(loc)
        line = line_of(lines, (*base, *loc))
        if kind == "extra_forbidden":
            name = str(loc[-1])
            close = suggest(name, _fields_for(loc), cutoff=0.5)
            found.append(
                RuleError(
                    f"unknown field `{name}`",
                    line,
                    rule_id,
                    _field_name(loc[:-1]) or None,
                    f"did you mean `{close}`?" if close else None,
                )
            )
            continue
        if kind == "missing":
            message = f"`{loc[-1]}` is missing"
        elif kind == "literal_error" and loc and str(loc[-1]) in _CHOICES:
            choices = _CHOICES[str(loc[-1])]
            message = f"expected one of {', '.join(choices)}, got {item['input']!r}"
            close = suggest(str(item["input"]), choices, cutoff=0.5)
            if close is not None:
                found.append(RuleError(message, line, rule_id, field, f"did you mean `{close}`?"))
                continue
        elif kind == "greater_than":
            message = f"must be more than {item['ctx']['gt']}, got {item['input']!r}"
        elif kind == "greater_than_equal":
            message = f"must be at least {item['ctx']['ge']}, got {item['input']!r}"
        elif kind == "string_pattern_mismatch":
            message = f"{item['input']!r} is not a valid id"
        elif kind in ("string_too_short", "too_short"):
            message = "must not be empty"
        elif kind == "string_too_long":
            message = f"is too long (at most {item['ctx']['max_length']} characters)"
        else:
            base_message = _PYDANTIC_MESSAGES.get(kind, str(item["msg"]).lower())
            message = f"{base_message}, got {item['input']!r}"
        hint = _FIELD_HINTS.get(field) or _FIELD_HINTS.get(field.split(".")[0].split("[")[0])
        found.append(RuleError(message, line, rule_id, field, hint))
    # `maks: 20` is one mistake, not also "`max` is missing": keep the typo line.
    guessed = {
        f"{e.field}.{e.suggestion.split('`')[1]}" if e.field else e.suggestion.split("`")[1]
        for e in found
        if e.message.startswith("unknown field") and e.suggestion
    }
    found = [e for e in found if not (e.message.endswith("is missing") and e.field in guessed)]
    # One line per field is clearer than pydantic's per-union-member echo.
    unique: dict[tuple[int | None, str | None, str], RuleError] = {}
    for e in found:
        unique.setdefault((e.line, e.field, e.message), e)
    return list(unique.values())


def _check_event_types(
    raw: Any, lines: Mapping[Path_, int]
) -> tuple[dict[str, dict[str, AttributeType]], list[RuleError]]:
    errors: list[RuleError] = []
    declared: dict[str, dict[str, AttributeType]] = {}
    base: Path_ = ("event_types",)
    if raw is None:
        return declared, errors
    if not isinstance(raw, dict):
        return declared, [
            RuleError(
                "expected a mapping of event type → {attribute: type}",
                line_of(lines, base),
                field="event_types",
                suggestion="e.g. event_types: {survey.answered: {score: int}}",
            )
        ]
    for name, attributes in raw.items():
        name = str(name)
        where = line_of(lines, (*base, name))
        field = f"event_types.{name}"
        if not EVENT_TYPE_PATTERN.match(name):
            errors.append(
                RuleError("event type names look like `survey.answered`", where, field=field)
            )
            continue
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, dict):
            errors.append(
                RuleError(
                    "expected a mapping of attribute → type",
                    where,
                    field=field,
                    suggestion=f"types are {', '.join(ATTRIBUTE_TYPES)}",
                )
            )
            continue
        known = BUILTIN_EVENT_TYPES.get(name)
        typed: dict[str, AttributeType] = {}
        for attribute, kind in attributes.items():
            attribute = str(attribute)
            at = line_of(lines, (*base, name, attribute))
            if not ATTRIBUTE_NAME_PATTERN.match(attribute):
                errors.append(
                    RuleError(
                        f"attribute name `{attribute}` must be lowercase letters, digits and _",
                        at,
                        field=f"{field}.{attribute}",
                    )
                )
                continue
            if attribute in COMMON_NAMES:
                errors.append(
                    RuleError(
                        f"`{attribute}` is a reserved name every condition already has",
                        at,
                        field=f"{field}.{attribute}",
                        suggestion="choose another attribute name",
                    )
                )
                continue
            if kind not in ATTRIBUTE_TYPES:
                close = suggest(str(kind), ATTRIBUTE_TYPES)
                errors.append(
                    RuleError(
                        f"unknown attribute type `{kind}`",
                        at,
                        field=f"{field}.{attribute}",
                        suggestion=f"did you mean `{close}`?"
                        if close
                        else f"types are {', '.join(ATTRIBUTE_TYPES)}",
                    )
                )
                continue
            if (
                known is not None
                and attribute in known.attributes
                and known.attributes[attribute] != kind
            ):
                errors.append(
                    RuleError(
                        f"`{name}.{attribute}` is already "
                        f"`{known.attributes[attribute]}` in the catalogue",
                        at,
                        field=f"{field}.{attribute}",
                    )
                )
                continue
            typed[attribute] = kind
        declared[name] = typed
    return declared, errors


def _symbols(catalogue: Catalogue, event_type: str | None) -> dict[str, AttributeType]:
    symbols = dict(COMMON_NAMES)
    if event_type is not None:
        known = catalogue.get(event_type)
        if known is not None:
            symbols.update(known.attributes)
    return symbols


def _check_rule(
    rule: Rule,
    catalogue: Catalogue,
    base: Path_,
    lines: Mapping[Path_, int],
    raw_fields: set[str] | None = None,
) -> list[RuleError]:
    if rule.challenge is not None:
        return challenges.check(rule, catalogue, base, lines)
    errors: list[RuleError] = []

    def err(message: str, field: str | None, suggestion: str | None = None) -> None:
        path = (*base, field) if field else base
        errors.append(RuleError(message, line_of(lines, path), rule.id, field, suggestion))

    if rule.points is None and rule.multiplier is None and rule.milestone is None:
        err(
            "a rule needs `points` (or `multiplier` for a campaign)", "points", "add e.g. points: 5"
        )
    if rule.points is not None and rule.multiplier is not None:
        err("use either `points` or `multiplier`, not both", "multiplier")
    if rule.points is not None:
        if rule.points < 0 and not (rule.reason and rule.reason.strip()):
            err(
                "negative points need a `reason` employees will see",
                "reason",
                "add reason: 说明扣分原因",
            )
        if rule.points == 0 and not rule.badge:
            err("0 points without a badge awards nothing", "points")
        if not rule.when and rule.team_goal is None:
            err(
                "a points rule must say which event types it scores",
                "when",
                "add e.g. when: approval.submitted",
            )
    if rule.multiplier is not None:
        if rule.multiplier <= 1:
            err(f"multiplier must be greater than 1, got {rule.multiplier}", "multiplier")
        if rule.streak is not None:
            err("a campaign multiplier cannot also be a streak", "streak")
        if rule.first_time:
            err("a campaign multiplier cannot be first_time", "first_time")
    if rule.streak is not None:
        given = [n for n in ("days", "weeks", "workdays") if getattr(rule.streak, n) is not None]
        if len(given) != 1:
            err(
                "give exactly one of `days`, `weeks` or `workdays`",
                "streak",
                f"keep `{given[-1]}` and remove the rest" if given else _FIELD_HINTS["streak"],
            )
    if rule.cooldown is not None:
        try:
            parse_duration(rule.cooldown)
        except ValueError as problem:
            err(str(problem), "cooldown")
    errors.extend(check_review(rule, base, lines, lambda: rule.team_goal is not None))
    valid = rule.valid
    if valid is not None and valid.from_ and valid.until and valid.from_ > valid.until:
        err(f"`from` {valid.from_} is after `until` {valid.until}", "valid")

    known_types: list[str | None] = []
    for index, event_type in enumerate(rule.when or []):
        field = "when"
        where = (*base, "when", index)
        if not EVENT_TYPE_PATTERN.match(event_type):
            errors.append(
                RuleError(
                    f"`{event_type}` is not an event type name",
                    line_of(lines, where),
                    rule.id,
                    field,
                    _FIELD_HINTS["when"],
                )
            )
            continue
        if catalogue.get(event_type) is None:
            close = suggest(event_type, catalogue.names())
            if close is not None:
                errors.append(
                    RuleError(
                        f"unknown event type `{event_type}`",
                        line_of(lines, where),
                        rule.id,
                        field,
                        f"did you mean `{close}`?",
                    )
                )
                # Check the rest as if the suggestion were taken, to report more at once.
                known_types.append(close)
                continue
        known_types.append(event_type)
    if not rule.when:
        known_types.append(None)

    if rule.milestone is not None:
        errors.extend(check_milestone(rule, catalogue, known_types, base, lines))

    if rule.once_per is not None:
        attribute = rule.once_per.removeprefix("attributes.")
        for scored_type in known_types:
            symbols = _symbols(catalogue, scored_type)
            if attribute not in symbols:
                close = suggest(attribute, [n for n in symbols if n not in COMMON_NAMES])
                hint: str | None
                if scored_type is not None and catalogue.get(scored_type) is None:
                    hint = f"declare the attributes of `{scored_type}` under event_types"
                else:
                    hint = f"did you mean `attributes.{close}`?" if close else None
                err(
                    f"`{rule.once_per}` is not an attribute of `{scored_type or 'every event'}`",
                    "once_per",
                    hint,
                )
                break

    if rule.if_ is not None:
        for scored_type in known_types:
            symbols = _symbols(catalogue, scored_type)
            try:
                check_condition(rule.if_, symbols)
            except ConditionError as problem:
                suggestion = f"did you mean `{problem.suggestion}`?" if problem.suggestion else None
                if scored_type is not None and catalogue.get(scored_type) is None:
                    suggestion = f"declare the attributes of `{scored_type}` under event_types"
                elif (
                    suggestion is None
                    and scored_type is None
                    and problem.message.startswith("unknown")
                ):
                    suggestion = "add `when:` so the event's attributes are known"
                err(problem.message, "if", suggestion)
                break
    if rule.team_goal is not None:

        def check_events(if_: str | None, when: list[str], path: Path_) -> list[RuleError]:
            update = {"when": when, "if_": if_, "once_per": None, "team_goal": None, "points": 1}
            probe = rule.model_copy(update=update)
            found = _check_rule(probe, catalogue, path, lines)
            return [e for e in found if e.field in ("when", "if")]

        errors.extend(check_team_goal(rule, raw_fields or set(), base, lines, check_events))
    return errors


def _without_broken_fields(
    raw: dict[str, Any], problem: ValidationError
) -> tuple[Rule, set[str]] | None:
    """The rule minus the fields pydantic rejected, for the remaining checks."""
    broken = {str(item["loc"][0]) for item in problem.errors() if item["loc"]}
    kept = {k: v for k, v in raw.items() if k not in broken}
    # `pionts: 5` is one mistake: the field it was meant to be counts as present.
    for item in problem.errors():
        if item["type"] == "extra_forbidden" and len(item["loc"]) == 1:
            close = suggest(str(item["loc"][0]), RULE_FIELDS, cutoff=0.5)
            if close:
                broken.add(close)
    kept.setdefault("id", "#")
    kept.setdefault("title", "#")
    if not isinstance(kept["id"], str) or not isinstance(kept["title"], str):
        return None
    try:
        rule = Rule.model_validate(kept)
    except ValidationError:
        return None
    # Requirements that a dropped field would have met are not news to HR.
    if "points" in broken or "multiplier" in broken or "milestone" in broken:
        broken.update({"points", "multiplier", "reason", "when"})
    if "team_goal" in broken:  # its own `when` was meant
        broken.add("when")
    if "challenge" in broken:
        broken.update({"when", "if"})  # a challenge names its types in its goals
    return rule, broken


def parse_ruleset(text: str) -> tuple[RuleFile | None, list[RuleError]]:
    """Parse and validate rule-file text; return the rule file (if valid) and all errors."""
    data, lines, errors = parse_yaml(text)
    if errors and data is None:
        return None, errors
    if data is None:
        return None, [RuleError("the file has no rules", 1, suggestion="start with `- id: …`")]

    declared_raw: Any = None
    if isinstance(data, list):
        raw_rules: Any = data
        # Bare lists are the same as {rules: [...]}; shift paths so lines resolve.
        lines = {("rules", *path): line for path, line in lines.items()}
    elif isinstance(data, dict):
        for key in data:
            if key not in TOP_LEVEL_FIELDS:
                close = suggest(str(key), TOP_LEVEL_FIELDS)
                errors.append(
                    RuleError(
                        f"unknown top-level field `{key}`",
                        line_of(lines, (str(key),)),
                        suggestion=f"did you mean `{close}`?"
                        if close
                        else "a rule file has `event_types` and `rules`",
                    )
                )
        declared_raw = data.get("event_types")
        raw_rules = data.get("rules", [])
    else:
        return None, [RuleError("expected a list of rules (or event_types + rules)", 1)]

    declared, type_errors = _check_event_types(declared_raw, lines)
    errors.extend(type_errors)
    catalogue = Catalogue(declared)

    if not isinstance(raw_rules, list):
        errors.append(
            RuleError("`rules` must be a list", line_of(lines, ("rules",)), field="rules")
        )
        return None, errors

    rules: list[Rule] = []
    first_line_of: dict[str, int | None] = {}
    for index, raw in enumerate(raw_rules):
        base: Path_ = ("rules", index)
        if not isinstance(raw, dict):
            errors.append(
                RuleError("each rule must be a mapping starting with `id:`", line_of(lines, base))
            )
            continue
        raw_id = raw.get("id")
        rule_id = raw_id if isinstance(raw_id, str) and raw_id else f"#{index + 1}"
        try:
            rule = Rule.model_validate(raw)
            broken: set[str] = set()
        except ValidationError as problem:
            errors.extend(_pydantic_errors(problem, rule_id, base, lines))
            # Check the rest of the rule too, so HR sees every problem in one go.
            partial = _without_broken_fields(raw, problem)
            if partial is None:
                continue
            rule, broken = partial
        if rule.id in first_line_of:
            errors.append(
                RuleError(
                    f"duplicate rule id (first used on line {first_line_of[rule.id]})",
                    line_of(lines, (*base, "id")),
                    rule.id,
                    "id",
                    "give each rule its own id",
                )
            )
        else:
            first_line_of[rule.id] = line_of(lines, (*base, "id"))
        checked = _check_rule(rule, catalogue, base, lines, {str(k) for k in raw})
        errors.extend(e for e in checked if (e.field or "").split(".")[0] not in broken)
        rules.append(rule)

    if errors:
        errors.sort(key=lambda e: e.line if e.line is not None else 0)
        return None, errors
    return RuleFile(event_types=declared, rules=rules), []


def validate_text(text: str) -> list[RuleError]:
    """All problems in a rule file's text (empty when it is valid)."""
    return parse_ruleset(text)[1]


def load_ruleset_text(text: str) -> RuleFile:
    """Parse and validate rule-file text; raise :class:`RuleSetError` listing every problem."""
    rule_file, errors = parse_ruleset(text)
    if rule_file is None:
        raise RuleSetError(errors)
    return rule_file


def load_ruleset_file(path: str | Path) -> RuleFile:
    """Read and validate a rule file (UTF-8 YAML)."""
    return load_ruleset_text(Path(path).read_text(encoding="utf-8"))


DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yaml")


def load_default_rules() -> RuleFile:
    """The rule set shipped with the product (``rules/default_rules.yaml``)."""
    return load_ruleset_file(DEFAULT_RULES_PATH)
