"""Review before award (`review`) in the rule language: what validates, what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules import compile_ruleset, load_ruleset_text, validate_text
from rules.review import expiry_of

REVIEWED = """\
- id: case-study
  title: 最佳实践案例
  when: approval.submitted
  points: 20
  review: {by: hr, expires: 14d}
"""


def only_error(text: str) -> str:
    found = [str(e) for e in validate_text(text)]
    assert len(found) == 1, found
    return found[0]


def test_a_reviewed_rule_is_valid_and_scores_like_any_other() -> None:
    assert validate_text(REVIEWED) == []
    assert validate_text(REVIEWED.replace("by: hr", "by: head")) == []
    rule = load_ruleset_text(REVIEWED).rules[0]
    assert rule.review is not None and expiry_of(rule.review) == timedelta(days=14)
    # Without `expires` an award waits 14 days.
    plain = load_ruleset_text(REVIEWED.replace(", expires: 14d", "")).rules[0]
    assert plain.review is not None and expiry_of(plain.review) == timedelta(days=14)
    assert compile_ruleset(REVIEWED).rules[0].kind == "points"


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("{by: boss, expires: 14d}", "field `review.by`: expected one of hr, head, got 'boss'"),
        ("{by: haed, expires: 14d}", "got 'haed' — did you mean `head`?"),
        ("{by: hr, expires: soon}", "field `review.expires`: `soon` is not a duration"),
        ("{by: hr, expires: 200d}", "a review may wait at most 90d"),
        ("{by: hr, expries: 14d}", "unknown field `expries` — did you mean `expires`?"),
        ("{expires: 14d}", "`by` is missing"),
    ],
)
def test_misuse_is_refused_with_line_and_hint(new: str, expected: str) -> None:
    message = only_error(REVIEWED.replace("{by: hr, expires: 14d}", new))
    assert message.startswith("line 5: rule `case-study`"), message
    assert expected in message
    assert " — " in message


def test_deductions_and_campaigns_are_not_reviewed() -> None:
    deduction = REVIEWED.replace("points: 20", "points: -5\n  reason: 违规")
    assert "only awards are reviewed" in only_error(deduction)
    campaign = REVIEWED.replace("points: 20", "multiplier: 2.0")
    assert "a campaign multiplier cannot need review" in only_error(campaign)
