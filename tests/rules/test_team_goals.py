"""Department challenges (`team_goal`) in the rule language: validation and the figures."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import compile_ruleset, load_ruleset_text, validate_text
from rules.team_goals import figure, parse_target, reached
from rules.team_match import matcher
from tests.rules.helpers import at, make_event

GOAL = """\
- id: admin-online
  title: 行政部线上审批挑战
  points: 30
  badge: 线上先锋
  team_goal:
    departments: [行政部, 12]
    when: approval.submitted
    if: on_time
    measure: participation
    target: 90%
    window: {from: 2026-12-01, days: 30}
"""


def errors_of(text: str) -> list[str]:
    return [str(e) for e in validate_text(text)]


def only_error(text: str) -> str:
    found = errors_of(text)
    assert len(found) == 1, found
    return found[0]


def test_a_team_goal_is_valid_and_never_scored_per_event() -> None:
    assert errors_of(GOAL) == []
    rule_file = load_ruleset_text(GOAL)
    goal = rule_file.rules[0].team_goal
    assert goal is not None
    assert goal.target_value == pytest.approx(0.9)
    assert goal.window.until == date(2026, 12, 30)
    ruleset = compile_ruleset(rule_file)
    assert ruleset.rules[0].kind == "team_goal"
    # Scoring an event of the goal's type gives nothing: the window's close pays.
    assert ruleset.rules_for("approval.submitted") == ()


@pytest.mark.parametrize(
    ("change", "line", "field", "hint"),
    [
        ("measure: participation", 9, "team_goal.measure", "did you mean `participation`?"),
        ("when: approval.submitted", 7, "team_goal.when", "did you mean `approval.submitted`?"),
        ("if: on_time", 8, "team_goal.if", "did you mean `on_time`?"),
    ],
)
def test_typos_inside_a_team_goal_name_the_line_and_a_suggestion(
    change: str, line: int, field: str, hint: str
) -> None:
    typo = {
        "measure: participation": "measure: particpation",
        "when: approval.submitted": "when: aproval.submitted",
        "if: on_time": "if: on_tme",
    }[change]
    message = only_error(GOAL.replace(change, typo))
    assert message.startswith(f"line {line}: rule `admin-online`, field `{field}`")
    assert message.endswith(hint)


MISUSE = [
    ("target: 90%", "target: 0", 10, "target must be more than 0, got 0"),
    ("target: 90%", "target: -3", 10, "target must be more than 0"),
    ("target: 90%", "target: 120%", 10, "at most 1 (100%), got '120%'"),
    ("target: 90%", "target: 9", 10, "at most 1 (100%), got 9"),
    ("target: 90%", "target: lots", 10, "target 'lots' is not a number"),
    ("measure: participation", "measure: count", 10, "a count target is a number, not a share"),
    ("{from: 2026-12-01, days: 30}", "{from: 2026-12-01}", 11, "`days` is missing"),
    ("days: 30", "dayz: 30", 11, "unknown field `dayz` — did you mean `days`?"),
    ("days: 30", "days: 0", 11, "must be at least 1"),
    ("points: 30", "points: 0", 3, "a team goal needs positive `points`"),
    ("  points: 30\n", "  points: 30\n  cap: {per: day, max: 5}\n", 4, "`cap` has no meaning"),
    ("  points: 30\n", "  points: 30\n  when: doc.shared\n", 4, "goes under `team_goal`"),
    (
        "  points: 30\n",
        "  points: 30\n  review: {by: hr}\n",
        4,
        "a team goal is paid when its window closes and cannot need review",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "expected"), MISUSE)
def test_misuse_is_refused_with_a_line(old: str, new: str, line: int, expected: str) -> None:
    assert old in GOAL
    message = only_error(GOAL.replace(old, new))
    assert message.startswith(f"line {line}:"), message
    assert expected in message
    assert " — " in message  # every refusal carries a hint


def test_participation_is_a_share_of_members() -> None:
    assert figure("participation", 10, 9, 40) == pytest.approx(0.9)
    assert figure("count", 10, 9, 40) == 40
    assert figure("per_head", 8, 3, 12) == pytest.approx(1.5)
    assert figure("per_head", 0, 0, 0) == 0
    assert reached("participation", 9 / 10, 0.9)
    assert not reached("participation", 8 / 10, 0.9)


@given(
    members=st.integers(min_value=1, max_value=500),
    data=st.data(),
)
def test_participation_never_exceeds_one_and_grows_with_active_members(
    members: int, data: st.DataObject
) -> None:
    active = data.draw(st.integers(min_value=0, max_value=members))
    value = figure("participation", members, active, active * 3)
    assert 0 <= value <= 1
    if active < members:
        assert figure("participation", members, active + 1, active * 3 + 3) > value
    # per head is the count spread over the members
    assert figure("per_head", members, active, active * 3) * members == pytest.approx(active * 3)


@given(st.floats(min_value=0.01, max_value=1, allow_nan=False))
def test_a_share_and_its_percentage_are_the_same_target(share: float) -> None:
    assert parse_target(f"{share * 100}%") == pytest.approx(share)
    assert parse_target(share) == pytest.approx(share)


def test_the_matcher_reads_when_and_if_like_a_rule() -> None:
    goal = load_ruleset_text(GOAL).rules[0].team_goal
    assert goal is not None
    counts = matcher(goal, {})
    assert counts(make_event(on_time=True, occurred_at=at("2026-12-02 10:00")))
    assert not counts(make_event(on_time=False))
    assert not counts(make_event(type="doc.shared", doc_id="d1"))
