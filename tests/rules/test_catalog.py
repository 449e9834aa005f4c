"""One catalogue: every attribute a real event carries is usable in a rule, typos are
still caught with a suggestion, and values are checked against their declared type."""

from __future__ import annotations

import pytest

from rules import validate_text
from rules.catalog import (
    BUILTIN_EVENT_TYPES,
    SOURCE_KINDS,
    AttributeType,
    coerce_value,
    conform,
    parse_text,
)

_SAMPLE: dict[AttributeType, str] = {
    "str": '"x"',
    "int": "1",
    "float": "1.5",
    "bool": "true",
    "list[str]": '"x"',
    "list[int]": "1",
}


def _condition(name: str, kind: AttributeType) -> str:
    if kind == "bool":
        return name
    if kind.startswith("list["):
        return f"{_SAMPLE[kind]} in {name}"
    return f"{name} == {_SAMPLE[kind]}"


@pytest.mark.parametrize("event_type", sorted(BUILTIN_EVENT_TYPES))
def test_rules_validate_accepts_every_catalogued_attribute(event_type: str) -> None:
    rules = []
    for index, (name, kind) in enumerate(BUILTIN_EVENT_TYPES[event_type].attributes.items()):
        rules.append(
            f"- id: r{index}\n  title: t\n  when: {event_type}\n"
            f"  if: '{_condition(name, kind)}'\n  points: 1\n  once_per: attributes.{name}\n"
        )
    assert [str(e) for e in validate_text("".join(rules))] == []


def test_a_typo_in_a_wecom_attribute_is_caught_with_the_right_name() -> None:
    errors = validate_text(
        "- id: customer-added\n  title: t\n  when: customer.added\n  points: 1\n"
        "  once_per: attributes.external_userd\n"
    )
    assert len(errors) == 1
    assert "did you mean `attributes.external_userid`?" in str(errors[0])
    errors = validate_text(
        "- id: chats\n  title: t\n  when: customer.contact_day\n  if: chat_cn >= 3\n  points: 1\n"
    )
    assert len(errors) == 1 and "did you mean `chat_cnt`?" in str(errors[0])


def test_every_type_says_where_it_comes_from() -> None:
    for event_type in BUILTIN_EVENT_TYPES.values():
        origin = event_type.origin
        assert origin.sources and set(origin.sources) <= set(SOURCE_KINDS), event_type.name
        assert origin.permission_zh and origin.permission_en, event_type.name
        assert origin.frequency_zh and origin.frequency_en, event_type.name
        wecom = {"callback", "pull"} & set(origin.sources)
        # A type WeCom cannot report says so, and how to feed it instead.
        assert bool(origin.wecom) == bool(wecom), event_type.name
        if not wecom:
            assert origin.note_zh and origin.note_en, event_type.name


def test_values_are_checked_against_their_declared_type() -> None:
    assert conform("approval.submitted", {"sp_no": 202411240001, "on_time": None}) == {
        "sp_no": "202411240001",
        "on_time": None,
    }
    assert conform("meeting.started", {"duration_minutes": 30, "extra": [1]}) == {
        "duration_minutes": 30,
        "extra": [1],
    }
    with pytest.raises(ValueError, match=r"attributes.on_time: expected true or false"):
        conform("approval.submitted", {"on_time": "yes"})
    with pytest.raises(ValueError, match=r"attributes.extra: not in the catalogue"):
        conform("meeting.started", {"extra": 1}, strict=True)
    assert conform("survey.answered", {"score": "5"}) == {"score": "5"}  # not catalogued
    assert coerce_value("list[str]", ("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError):
        coerce_value("int", True)
    assert parse_text("str", "007") == "007"
    assert parse_text("bool", "是") is True and parse_text("list[str]", "a|b") == ["a", "b"]
    with pytest.raises(ValueError, match="expected a whole number"):
        parse_text("int", "three")
