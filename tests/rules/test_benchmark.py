"""The benchmark reports the agreed shape (the figure itself is not asserted)."""

from __future__ import annotations

from rules import benchmark
from rules.engine import compile_ruleset, score_event
from rules.history import ActorHistory
from rules.schema import RuleFile


def test_quick_run_shape() -> None:
    result = benchmark.run(quick=True)
    assert result["name"] == "rule evaluation" and result["unit"] == "events/s"
    assert result["figure"] > 0 and result["baseline"] > 0
    assert abs(result["ratio"] - result["figure"] / result["baseline"]) < 0.01
    assert result["details"]["rules"] > 200


def test_generated_rules_match_their_hand_written_twins() -> None:
    generated = benchmark.generated_rules(60)
    ruleset = compile_ruleset(RuleFile(rules=[rule for rule, _ in generated]))
    for event in benchmark.synthetic_events(800):
        # With an empty history nothing but the condition can stop a first award.
        outcome = score_event(ruleset, event, ActorHistory())
        hand = {
            rule.id
            for rule, check in generated
            if event.type in (rule.when or ()) and (check is None or check(event.attributes))
        }
        # Milestones and streaks count first (their awards come later): the condition
        # decides whether they count.
        counting = {r.id for r, _ in generated if r.milestone or r.streak}
        assert {a.rule_id for a in outcome.awards} == hand - counting
        counted = {rule_id for rule_id, _ in [*outcome.progress, *outcome.streaks]}
        assert counted <= hand & counting
        assert {r for r, _ in outcome.progress} >= {
            r.id for r, _ in generated if r.id in hand and r.milestone and not r.milestone.sum
        }


def test_the_generated_rules_include_milestones_and_working_day_streaks() -> None:
    generated = [rule for rule, _ in benchmark.generated_rules(200)]
    assert sum(1 for r in generated if r.milestone and r.milestone.sum) >= 3
    assert sum(1 for r in generated if r.milestone and not r.milestone.sum) >= 3
    assert sum(1 for r in generated if r.streak and r.streak.workdays) >= 5
