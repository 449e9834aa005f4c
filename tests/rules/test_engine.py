"""Each rule feature, one scenario at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules import (
    ActorHistory,
    InMemoryHistory,
    StreakState,
    compile_ruleset,
    evaluate,
    history_from_ledger,
    load_default_rules,
    period_key_at,
    score_event,
)
from rules.engine import score_and_record
from tests.rules.helpers import T0, approval, at, make_event, points, ruleset, run

ON_TIME = """
- id: approval-on-time
  title: 按时提交审批
  title_en: Approval submitted on time
  when: approval.submitted
  if: on_time and template in ["报销", "请假", "出差"]
  points: 5
  once_per: attributes.sp_no
  cap: {per: day, max: 12}
"""


def test_award_carries_rule_version_and_sentences() -> None:
    [award] = evaluate(ruleset(ON_TIME, version=7), approval(), ActorHistory())
    assert (award.rule_id, award.rule_version, award.points) == ("approval-on-time", 7, 5)
    assert award.reason_zh == "按时提交审批 · 报销 202411240001"
    assert award.reason_en == "Approval submitted on time · 报销 202411240001"
    assert award.once_value == "202411240001"
    assert award.period_key == "2026-11-23"
    assert award.to_dict()["reason_zh"] == award.reason_zh


def test_condition_filters_events() -> None:
    rules = ruleset(ON_TIME)
    assert evaluate(rules, approval(on_time=False), ActorHistory()) == []
    assert evaluate(rules, approval(template="采购"), ActorHistory()) == []
    assert evaluate(rules, make_event("doc.shared", title="x"), ActorHistory()) == []


def test_once_per_awards_each_value_once() -> None:
    awards = run(ruleset(ON_TIME), [approval("A"), approval("A"), approval("B")])
    assert [a.once_value for a in awards] == ["A", "B"]


def test_once_per_without_the_value_awards_nothing() -> None:
    event = make_event("approval.submitted", template="报销", on_time=True)
    assert evaluate(ruleset(ON_TIME), event, ActorHistory()) == []


def test_cap_awards_the_remainder_then_nothing() -> None:
    events = [approval(str(n), T0 + timedelta(minutes=n)) for n in range(4)]
    awards = run(ruleset(ON_TIME), events)
    assert [a.points for a in awards] == [5, 5, 2]
    assert "上限" in awards[2].reason_zh and "limit" in awards[2].reason_en


def test_cap_resets_on_the_next_local_day() -> None:
    late = at("2026-11-23 23:59")
    next_day = at("2026-11-24 00:01")
    events = [approval(str(n), late) for n in range(3)] + [approval("x", next_day)]
    assert [a.points for a in run(ruleset(ON_TIME), events)] == [5, 5, 2, 5]


def test_periods_are_cut_in_the_given_timezone() -> None:
    # 2026-11-23 17:00 UTC is already the 24th in Beijing but still the 23rd in UTC.
    moment = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert period_key_at("day", moment) == "2026-11-24"
    assert period_key_at("day", moment, "UTC") == "2026-11-23"
    assert period_key_at("week", moment) == "2026-W48"
    assert period_key_at("month", datetime(2026, 12, 31, 17, tzinfo=UTC)) == "2027-01"
    assert period_key_at("quarter", datetime(2026, 9, 30, 16, tzinfo=UTC)) == "2026-Q4"
    assert period_key_at("week", datetime(2027, 1, 1, 12, tzinfo=UTC)) == "2026-W53"


@pytest.mark.parametrize(
    ("per", "gap", "second"),
    [
        ("week", timedelta(days=6), 0),
        ("week", timedelta(days=7), 3),
        ("month", timedelta(days=7), 0),
    ],
)
def test_weekly_and_monthly_caps(per: str, gap: timedelta, second: int) -> None:
    rules = ruleset(
        f"""
- id: doc
  title: 分享文档
  when: doc.shared
  points: 3
  cap: {{per: {per}, max: 3}}
"""
    )
    # T0 is Monday 2026-11-23; +6 days is Sunday of the same ISO week.
    events = [
        make_event("doc.shared", occurred_at=T0),
        make_event("doc.shared", occurred_at=T0 + gap),
    ]
    assert [a.points for a in run(rules, events)][1:] == ([second] if second else [])


def test_cooldown_between_awards() -> None:
    rules = ruleset(
        """
- id: doc-shared
  title: 分享文档
  when: doc.shared
  points: 3
  cooldown: 10m
"""
    )
    times = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10), T0 + timedelta(minutes=19)]
    awards = run(rules, [make_event("doc.shared", occurred_at=t) for t in times])
    assert [a.occurred_at for a in awards] == [times[0], times[2]]


def test_cooldown_is_per_person() -> None:
    rules = ruleset("- {id: d, title: d, when: doc.shared, points: 1, cooldown: 1h}")
    events = [make_event("doc.shared", actor=who) for who in ("a", "b", "a")]
    assert [a.actor for a in run(rules, events)] == ["a", "b"]


def test_first_time_only_once_with_badge() -> None:
    rules = ruleset(
        """
- id: first-meeting
  title: 第一次发起会议
  when: meeting.started
  first_time: true
  points: 20
  badge: 会议达人
"""
    )
    events = [make_event("meeting.started", occurred_at=T0 + timedelta(days=d)) for d in range(3)]
    [award] = run(rules, events)
    assert award.badge == "会议达人" and award.points == 20


STREAK = """
- id: checkin-streak
  title: 连续打卡
  when: checkin.recorded
  if: on_time
  streak: {days: 3}
  points: 10
"""


def _checkins(days: list[int], on_time: bool = True) -> list:  # type: ignore[type-arg]
    return [
        make_event("checkin.recorded", occurred_at=T0 + timedelta(days=d), on_time=on_time)
        for d in days
    ]


def test_streak_of_days_awards_at_each_multiple() -> None:
    awards = run(ruleset(STREAK), _checkins([0, 0, 1, 2, 3, 4, 5]))
    assert [a.occurred_at.day for a in awards] == [25, 28]
    assert "连续 3 天" in awards[0].reason_zh and "3-day streak" in awards[0].reason_en
    assert "连续 6 天" in awards[1].reason_zh


def test_streak_breaks_on_a_missed_day() -> None:
    assert run(ruleset(STREAK), _checkins([0, 1, 3, 4])) == []
    assert len(run(ruleset(STREAK), _checkins([0, 1, 3, 4, 5]))) == 1


def test_streak_counts_only_matching_events() -> None:
    events = _checkins([0, 1]) + _checkins([2], on_time=False)
    assert run(ruleset(STREAK), events) == []


def test_streak_of_iso_weeks() -> None:
    rules = ruleset(STREAK.replace("{days: 3}", "{weeks: 2}"))
    # Monday of week 48, Sunday of week 49, then Monday of week 51 (a gap).
    events = _checkins([0, 13, 28, 35])
    assert [a.occurred_at.day for a in run(rules, events)] == [6, 28]


def test_streak_progress_is_returned_not_stored() -> None:
    history = ActorHistory()
    outcome = score_event(ruleset(STREAK), _checkins([0])[0], history)
    assert outcome.awards == [] and history.streaks == {}
    [(rule_id, state)] = outcome.streaks
    assert rule_id == "checkin-streak" and state.length == 1


SCOPED = """
- id: sales-only
  title: 销售部专属
  when: customer.tagged
  points: 2
  departments: [销售部, 42]
  exclude: [robot01]
"""


@pytest.mark.parametrize(
    ("actor", "departments", "awarded"),
    [
        ("lisi", ("华东销售组", "31", "销售部", "3", "总公司", "1"), True),  # via an ancestor
        ("lisi", ("客服组", "42", "总公司", "1"), True),  # by department id
        ("lisi", ("技术部", "6", "总公司", "1"), False),
        ("robot01", ("销售部", "3"), False),  # excluded person
    ],
)
def test_department_scope_and_exclusions(
    actor: str, departments: tuple[str, ...], awarded: bool
) -> None:
    event = make_event("customer.tagged", actor=actor, departments=departments, tag_count=1)
    assert bool(evaluate(ruleset(SCOPED), event, ActorHistory())) is awarded


def test_valid_window_is_inclusive_in_local_time() -> None:
    rules = ruleset(
        """
- id: december
  title: 十二月活动
  when: doc.created
  points: 1
  valid: {from: 2026-12-01, until: 2026-12-31}
"""
    )

    def scored(moment: datetime) -> bool:
        return bool(evaluate(rules, make_event("doc.created", occurred_at=moment), ActorHistory()))

    utc = UTC
    assert not scored(datetime(2026, 11, 30, 15, 59, tzinfo=utc))  # 23:59 Beijing, Nov 30
    assert scored(datetime(2026, 11, 30, 16, 0, tzinfo=utc))  # 00:00 Beijing, Dec 1
    assert scored(at("2026-12-31 23:59"))
    assert not scored(at("2027-01-01 00:00"))


def test_disabled_rules_do_not_score() -> None:
    rules = ruleset(ON_TIME + "  enabled: false\n")
    assert evaluate(rules, approval(), ActorHistory()) == []


def test_negative_points_with_reason() -> None:
    rules = ruleset(
        """
- id: revoked
  title: 撤回审批
  when: approval.revoked
  points: -2
  reason: 提交后撤回
"""
    )
    [award] = evaluate(
        rules, make_event("approval.revoked", template="报销", sp_no="1"), ActorHistory()
    )
    assert award.points == -2


CAMPAIGN = (
    ON_TIME
    + """
- id: doc-shared
  title: 分享文档
  when: doc.shared
  points: 3
- id: pilot-boost
  title: 试点部门双倍积分
  title_en: Pilot double points
  multiplier: 2
  departments: [销售部]
  valid: {from: 2026-11-01, until: 2026-11-30}
"""
)


def test_campaign_adds_its_own_line() -> None:
    awards = evaluate(ruleset(CAMPAIGN), approval(), ActorHistory())
    assert [(a.rule_id, a.points, a.kind) for a in awards] == [
        ("approval-on-time", 5, "points"),
        ("pilot-boost", 5, "campaign"),
    ]
    assert awards[1].reason_zh == "试点部门双倍积分 · ×2（基础 5 分）"
    assert awards[1].reason_en == "Pilot double points · ×2 (on 5 base points)"


def test_campaign_respects_scope_and_window() -> None:
    rules = ruleset(CAMPAIGN)
    outside = make_event("doc.shared", departments=("技术部", "6"))
    assert [a.rule_id for a in evaluate(rules, outside, ActorHistory())] == ["doc-shared"]
    december = make_event("doc.shared", occurred_at=at("2026-12-01 09:00"))
    assert [a.rule_id for a in evaluate(rules, december, ActorHistory())] == ["doc-shared"]


def test_campaign_needs_a_base_award() -> None:
    assert evaluate(ruleset(CAMPAIGN), approval(on_time=False), ActorHistory()) == []


def test_campaign_multiplier_fraction_and_cap() -> None:
    rules = ruleset(CAMPAIGN.replace("multiplier: 2", "multiplier: 1.5\n  cap: {per: day, max: 2}"))
    awards = run(rules, [approval("1"), approval("2")])
    campaign = [a.points for a in awards if a.kind == "campaign"]
    assert campaign == [2]  # int(5 × 0.5) = 2, then the daily cap of 2 is used up


def test_declared_event_type_is_scored() -> None:
    rules = ruleset(
        """
event_types:
  survey.answered: {score: int, survey_id: str}
rules:
  - id: survey
    title: 完成问卷
    when: survey.answered
    if: score >= 4
    points: 2
    once_per: attributes.survey_id
"""
    )
    event = make_event("survey.answered", score=5, survey_id="s1")
    assert points(run(rules, [event, event])) == 2


def test_undeclared_new_type_scores_without_condition() -> None:
    rules = ruleset("- {id: new, title: 新来源, when: kudos.sent, points: 1}")
    assert points(run(rules, [make_event("kudos.sent")])) == 1


def test_condition_sees_local_time_and_departments() -> None:
    rules = ruleset(
        """
- id: early
  title: 早到打卡
  when: checkin.recorded
  if: hour < 9 and weekday <= 5 and "销售部" in departments and date >= "2026-11-01"
  points: 1
"""
    )
    early = make_event("checkin.recorded", occurred_at=datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    late = make_event("checkin.recorded", occurred_at=at("2026-11-23 09:30"))
    weekend = make_event("checkin.recorded", occurred_at=at("2026-11-28 08:00"))
    assert [bool(evaluate(rules, e, ActorHistory())) for e in (early, late, weekend)] == [
        True,
        False,
        False,
    ]


def test_bad_attribute_data_means_no_match_not_a_crash() -> None:
    rules = ruleset(
        "- {id: big, title: 大额, when: approval.submitted, if: amount > 100, points: 1}"
    )
    for amount in (None, "lots", [1]):
        event = make_event("approval.submitted", amount=amount)
        assert evaluate(rules, event, ActorHistory()) == []
    assert evaluate(rules, make_event("approval.submitted"), ActorHistory()) == []


def test_keyed_index_keeps_file_order_and_falls_back_on_bad_data() -> None:
    text = (
        "\n".join(
            f"- {{id: r{n}, title: r, when: approval.submitted, "
            f"if: 'template == \"{t}\"', points: 1}}"
            for n, t in enumerate(["报销", "请假", "报销"])
        )
        + "\n- {id: any, title: r, when: approval.submitted, points: 1}\n"
    )
    rules = ruleset(text)
    ids = [a.rule_id for a in evaluate(rules, approval(template="报销"), ActorHistory())]
    assert ids == ["r0", "r2", "any"]
    unhashable = make_event("approval.submitted", template=["报销"])
    assert [a.rule_id for a in evaluate(rules, unhashable, ActorHistory())] == ["any"]


def test_nested_index_never_changes_what_an_event_earns(monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmark's rule set keys rules on up to three text attributes per type; the
    # same events scored with the index switched off must earn exactly the same.
    from rules import benchmark, engine, index

    indexed, _ = benchmark.build(generated=120)
    assert any(
        node.key_name is not None and any(c.key_name for c in node.by_value.values())
        for node in (plan.index for plan in indexed._plans.values())
    ), "the generated rules should give at least one two-level index"
    monkeypatch.setattr(index, "MAX_DEPTH", 0)
    flat = engine.compile_ruleset(indexed.rule_file, version=1)
    assert all(plan.index.key_name is None for plan in flat._plans.values())
    events = benchmark.synthetic_events(4_000, people=40)
    a, b = InMemoryHistory(), InMemoryHistory()
    for event in events:
        got = score_and_record(indexed, event, a)
        expected = score_and_record(flat, event, b)
        assert [(x.rule_id, x.points) for x in got] == [(x.rule_id, x.points) for x in expected]


def test_evaluate_does_not_change_history() -> None:
    history = InMemoryHistory()
    evaluate(ruleset(ON_TIME), approval(), history)
    assert history.of("zhangsan").to_dict() == ActorHistory().to_dict()


def test_history_from_ledger_matches_recorded_history() -> None:
    rules = ruleset(ON_TIME + STREAK)
    events = [approval(str(n), T0 + timedelta(hours=n)) for n in range(4)] + _checkins([0, 1])
    recorded = InMemoryHistory()
    awards = []
    for event in events:
        outcome = score_event(rules, event, recorded)
        recorded.record(event.actor, outcome)
        awards.extend(outcome.awards)
    mine = recorded.of("zhangsan")
    rebuilt = history_from_ledger(awards, streaks=mine.streaks)
    assert rebuilt.to_dict() == mine.to_dict()
    assert mine.streaks["checkin-streak"] == StreakState(T0.date().toordinal() + 1, 2)


def test_default_rules_score_the_roll_out_examples() -> None:
    rules = compile_ruleset(load_default_rules(), version=1)
    assert [a.points for a in evaluate(rules, approval(), ActorHistory())] == [5]
    shared = make_event("doc.shared", title="周报")
    assert [a.points for a in evaluate(rules, shared, ActorHistory())] == [3]
    meeting = make_event("meeting.started", meeting_id="m1", attendees=3, topic="周会")
    awards = evaluate(rules, meeting, ActorHistory())
    assert [(a.rule_id, a.points, a.badge) for a in awards] == [
        ("first-meeting", 20, "会议达人"),
        ("meeting-started", 2, None),
    ]
