"""Simulation: per person, department and rule, and the totals."""

from __future__ import annotations

import json
from datetime import timedelta

from rules import compile_ruleset, load_default_rules, simulate
from rules.benchmark import synthetic_events
from tests.rules.helpers import T0, approval, make_event

ACTIVE = """
- {id: approval, title: 审批, when: approval.submitted, points: 5, once_per: attributes.sp_no}
- {id: doc, title: 文档, when: doc.shared, points: 3}
"""
CANDIDATE = """
- {id: approval, title: 审批, when: approval.submitted, points: 4, once_per: attributes.sp_no}
- {id: doc, title: 文档, when: doc.shared, points: 3, cap: {per: day, max: 3}}
- {id: first-doc, title: 第一次, when: doc.created, first_time: true, points: 10}
"""


def test_report_compares_people_departments_and_rules() -> None:
    sales, tech = ("销售部", "3"), ("技术部", "6")
    events = [
        approval("1"),
        approval("1"),  # a resend earns nothing under either set
        make_event("doc.shared", actor="li", departments=tech, occurred_at=T0),
        make_event("doc.shared", actor="li", departments=tech, occurred_at=T0 + timedelta(hours=1)),
        make_event("doc.created", actor="wang", departments=sales),
    ]
    report = simulate(events, compile_ruleset(ACTIVE, 1), compile_ruleset(CANDIDATE, 2))
    assert report.events == 5
    assert {p: (t.active, t.candidate) for p, t in report.by_person.items()} == {
        "zhangsan": (5, 4),
        "li": (6, 3),
        "wang": (0, 10),
    }
    assert {d: t.difference for d, t in report.by_department.items()} == {"销售部": 9, "技术部": -3}
    assert {r: t.difference for r, t in report.by_rule.items()} == {
        "approval": -1,
        "doc": -3,
        "first-doc": 10,
    }
    assert (report.total_active, report.total_candidate, report.inflation) == (11, 17, 6)
    assert [p for p, _ in report.winners()] == ["wang"]
    assert [p for p, _ in report.losers()] == ["li", "zhangsan"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["total"] == {"active": 11, "candidate": 17, "difference": 6, "ratio": 17 / 11}
    assert data["winners"][0] == {"person": "wang", "active": 0, "candidate": 10, "difference": 10}


def test_same_rules_means_no_difference() -> None:
    rules = compile_ruleset(load_default_rules(), 1)
    report = simulate(synthetic_events(3000, people=40), rules, rules)
    assert report.total_active > 0 and report.inflation == 0
    assert report.winners() == [] and report.losers() == []
