"""Validation: every problem is one clear line with rule id, field, line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rules import (
    DEFAULT_RULES_PATH,
    RuleSetError,
    compile_ruleset,
    load_default_rules,
    load_ruleset_file,
    load_ruleset_text,
    validate_text,
)
from rules.cli import validate_command

GOOD = """\
- id: approval-on-time
  title: 按时提交审批
  when: approval.submitted
  if: on_time and template in ["报销", "请假"]
  points: 5
  once_per: attributes.sp_no
  cap: {per: day, max: 20}
"""


def only_error(text: str) -> str:
    errors = validate_text(text)
    assert len(errors) == 1, [str(e) for e in errors]
    line = str(errors[0])
    assert "\n" not in line
    return line


def test_good_file_has_no_errors() -> None:
    assert validate_text(GOOD) == []


def test_typo_in_field_name() -> None:
    line = only_error(GOOD.replace("once_per", "onec_per"))
    assert line == (
        "line 6: rule `approval-on-time`: unknown field `onec_per` — did you mean `once_per`?"
    )


def test_typo_in_nested_field_name() -> None:
    line = only_error(GOOD.replace("max: 20", "maks: 20"))
    assert "line 7" in line and "unknown field `maks`" in line and "`max`" in line


def test_wrong_type() -> None:
    line = only_error(GOOD.replace("points: 5", "points: five"))
    assert line.startswith(
        "line 5: rule `approval-on-time`, field `points`: expected a whole number"
    )


def test_unknown_event_type_close_to_a_known_one() -> None:
    line = only_error(GOOD.replace("approval.submitted", "approval.submited"))
    assert line == (
        "line 3: rule `approval-on-time`, field `when`: unknown event type "
        "`approval.submited` — did you mean `approval.submitted`?"
    )


def test_cap_without_per() -> None:
    line = only_error(GOOD.replace("cap: {per: day, max: 20}", "cap: {max: 20}"))
    assert "line 7" in line and "field `cap.per`" in line and "per: day|week|month|quarter" in line


def test_cap_with_unknown_period() -> None:
    line = only_error(GOOD.replace("per: day", "per: daily"))
    assert "expected one of day, week, month, quarter, got 'daily'" in line


def test_negative_points_without_reason() -> None:
    line = only_error(GOOD.replace("points: 5", "points: -5"))
    assert "rule `approval-on-time`, field `reason`" in line and "negative points" in line
    assert validate_text(GOOD.replace("points: 5", "points: -5\n  reason: 重复提交")) == []


def test_bad_condition_syntax() -> None:
    line = only_error(
        GOOD.replace('if: on_time and template in ["报销", "请假"]', "if: on_time and (")
    )
    assert line.startswith("line 4: rule `approval-on-time`, field `if`: syntax error")


def test_unknown_condition_name_with_suggestion() -> None:
    line = only_error(GOOD.replace("if: on_time", "if: on_tme"))
    assert line == (
        "line 4: rule `approval-on-time`, field `if`: "
        "unknown field `on_tme` — did you mean `on_time`?"
    )


def test_condition_type_mismatch() -> None:
    line = only_error(GOOD.replace("if: on_time and", "if: template > 3 and"))
    assert "field `if`" in line and "type" in line


@pytest.mark.parametrize(
    "condition",
    ['template =~ "报.*"', "$now > $now", 'template[0] == "报"', "$split(template) == []"],
)
def test_condition_outside_the_safe_subset(condition: str) -> None:
    line = only_error(GOOD.replace('on_time and template in ["报销", "请假"]', f"'{condition}'"))
    assert ("field `if`" in line and "not allowed" in line) or "only these functions" in line


def test_condition_length_cap() -> None:
    long = " or ".join(f'template == "{n:03d}"' for n in range(40))
    line = only_error(GOOD.replace('on_time and template in ["报销", "请假"]', f"'{long}'"))
    assert "limit is 500" in line


def test_duplicate_rule_ids() -> None:
    line = only_error(GOOD + GOOD.replace("- id", "\n- id"))
    assert line.startswith("line 9: rule `approval-on-time`, field `id`: duplicate rule id")
    assert "line 1" in line


def test_once_per_names_a_real_attribute() -> None:
    line = only_error(GOOD.replace("attributes.sp_no", "attributes.sp_num"))
    assert "field `once_per`" in line and "did you mean `attributes.sp_no`?" in line


def test_bad_cooldown_and_date_window() -> None:
    errors = validate_text(
        GOOD + "  cooldown: 10 minutes\n  valid: {from: 2026-12-31, until: 2026-12-01}\n"
    )
    text = "\n".join(map(str, errors))
    assert "field `cooldown`" in text and "10m" in text
    assert "field `valid`" in text and "after" in text


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("once_per", "onec_per").replace("if: on_time", "if: on_tme")
    text = text.replace("approval.submitted", "approval.submited")
    assert len(validate_text(text)) == 3


def test_rule_needs_points_and_when() -> None:
    errors = "\n".join(map(str, validate_text("- {id: a, title: 标题}")))
    assert "needs `points`" in errors
    assert (
        "must say which event types" in validate_text("- {id: a, title: t, points: 1}")[0].message
    )


def test_multiplier_rules() -> None:
    assert validate_text("- {id: boost, title: 双倍, multiplier: 2}") == []
    assert "greater than 1" in str(validate_text("- {id: boost, title: 双倍, multiplier: 1}")[0])
    assert "not both" in str(
        validate_text("- {id: b, title: t, when: doc.shared, points: 1, multiplier: 2}")[0]
    )


def test_streak_needs_days_or_weeks() -> None:
    errors = validate_text("- {id: s, title: t, when: checkin.recorded, points: 1, streak: {}}")
    assert "exactly one of `days`, `weeks` or `workdays`" in str(errors[0])


def test_yaml_syntax_error_has_a_line() -> None:
    line = only_error("- id: a\n  title: b\n  when: [doc.shared\n")
    assert line.startswith("line ") and "YAML syntax error" in line


def test_duplicate_yaml_key() -> None:
    line = only_error(GOOD + "  points: 6\n")
    assert "line 8" in line and "`points` appears twice" in line


def test_event_types_declaration() -> None:
    text = (
        "event_types:\n  survey.answered: {score: int}\nrules:\n"
        "  - {id: s, title: t, when: survey.answered, if: score > 3, points: 1}\n"
    )
    assert validate_text(text) == []
    bad = text.replace("score: int", "score: integer")
    assert "unknown attribute type `integer`" in str(validate_text(bad)[0])
    reserved = text.replace("{score: int}", "{score: int, actor: str}")
    assert "reserved" in str(validate_text(reserved)[0])
    conflict = "event_types:\n  approval.submitted: {on_time: str}\nrules: []\n"
    assert "already `bool`" in str(validate_text(conflict)[0])


def test_unknown_top_level_key() -> None:
    line = only_error("rule:\n  - {id: a, title: b, when: doc.shared, points: 1}\n")
    assert "unknown top-level field `rule`" in line and "`rules`" in line


def test_condition_on_undeclared_type_asks_for_a_declaration() -> None:
    line = only_error("- {id: s, title: t, when: survey.answered, if: score > 3, points: 1}")
    assert "declare the attributes of `survey.answered` under event_types" in line


def test_loaders_raise_with_all_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError) as raised:
        load_ruleset_text(GOOD.replace("points: 5", "points: five"))
    assert len(raised.value.errors) == 1
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_ruleset_file(path).rules[0].id == "approval-on-time"


def test_yaml_round_trip() -> None:
    original = load_default_rules()
    again = load_ruleset_text(original.to_yaml())
    assert again == original
    assert compile_ruleset(again).get("pilot-boost") is None  # disabled


def test_default_rules_are_valid_and_cover_the_guide() -> None:
    rules = load_default_rules().rules
    ids = {rule.id for rule in rules}
    assert {"approval-on-time", "doc-shared", "first-meeting", "checkin-streak-5"} <= ids
    assert all(rule.title and rule.title_en for rule in rules)
    # Anything that could be farmed has a cap, a once-per key or is a one-off (a
    # challenge pays once).
    for rule in rules:
        if rule.points and rule.points > 0:
            assert rule.cap or rule.once_per or rule.first_time or rule.streak or rule.challenge, (
                rule.id
            )


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(validate_command, [str(DEFAULT_RULES_PATH)])
    assert ok.exit_code == 0 and ok.output.startswith("OK:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("if: on_time", "if: on_tme"), encoding="utf-8")
    result = runner.invoke(validate_command, [str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: rule `approval-on-time`, field `if`: unknown field `on_tme`" in result.output
