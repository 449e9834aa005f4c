"""Conditions: rule-engine checks them, our closures run them, results agree."""

from __future__ import annotations

from typing import Any

import pytest
import rule_engine

from rules.conditions import MAX_CONDITION_LENGTH, ConditionError, compile_condition

SYMBOLS: dict[str, Any] = {
    "on_time": "bool",
    "template": "str",
    "hours": "float",
    "count": "int",
    "tags": "list[str]",
}
CONTEXT = {"on_time": True, "template": "报销", "hours": 3.5, "count": 4, "tags": ("VIP", "老客户")}


@pytest.mark.parametrize(
    "source",
    [
        'on_time and template in ["报销", "请假"]',
        "not on_time or hours > 3 * 2",
        'template not in ["采购"]',
        "template.length == 2 and not template.is_empty",
        'template.as_upper == "报销"',
        "$abs(hours - 10) > 5",
        "$max([hours, count]) >= 4",
        "hours < 2 ? false : true",
        '"VIP" in tags and tags.length >= 2',
        "count % 2 == 0 and count // 3 == 1 and count / 2 == 2",
        "(hours ?? 0) > 1",
        "count != 4 or -count < 0",
        "true",
    ],
)
def test_closures_agree_with_rule_engine(source: str) -> None:
    compiled = compile_condition(source, SYMBOLS)
    reference = rule_engine.Rule(source).matches(CONTEXT)
    assert bool(compiled.test(CONTEXT)) is reference


def test_names_read_are_reported() -> None:
    compiled = compile_condition('on_time and template == "报销"', SYMBOLS)
    assert compiled.names == {"on_time", "template"}
    assert compiled.required == {"template": frozenset({"报销"})}


def test_required_values_only_from_and_chains() -> None:
    assert compile_condition('template == "报销" or on_time', SYMBOLS).required == {}


def test_misspelt_name_suggests_the_right_one() -> None:
    with pytest.raises(ConditionError) as raised:
        compile_condition("on_tme", SYMBOLS)
    assert raised.value.message == "unknown field `on_tme`"
    assert raised.value.suggestion == "on_time"


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ('template =~ "报"', "regular expressions"),
        ("$now", "not allowed"),
        ("$random() > 1", "only these functions"),
        ('template[0] == "报"', "indexing"),
        ("count ** 2 > 1", "`**`"),
        ("template.to_int > 1", "not allowed"),
        ("template > 3", "type-check"),
        ("on_time and (", "syntax error"),
        ("", "empty"),
        ("count == " + "1 + " * MAX_CONDITION_LENGTH + "1", "limit"),
    ],
)
def test_refused_conditions(source: str, complaint: str) -> None:
    with pytest.raises(ConditionError) as raised:
        compile_condition(source, SYMBOLS)
    assert complaint in raised.value.message
