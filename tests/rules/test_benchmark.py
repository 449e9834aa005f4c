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
        engine = {a.rule_id for a in score_event(ruleset, event, ActorHistory()).awards}
        hand = {
            rule.id
            for rule, check in generated
            if event.type in (rule.when or ()) and (check is None or check(event.attributes))
        }
        assert engine == hand
