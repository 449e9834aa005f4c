"""Personal challenges: every goal met inside the window earns the award once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import (
    Event,
    InMemoryHistory,
    compile_ruleset,
    score_and_record,
    score_event,
    validate_text,
)
from rules.challenges import progress_of
from rules.event import Award
from rules.progress import contribution, withdraw
from tests.rules.helpers import BEIJING

CHALLENGE = """
- id: newcomer
  title: 新人挑战
  title_en: Newcomer challenge
  challenge:
    window: {days: 30, starts: joined}
    goals:
      - title: 按时提交审批
        title_en: On-time approvals
        when: approval.submitted
        if: on_time
        count: 3
      - {when: doc.shared, count: 2}
      - {when: meeting.started, count: 1}
  points: 50
  badge: 新星
"""
RULES = compile_ruleset(CHALLENGE, version=1)
JOINED = date(2026, 11, 2)
SALES = ("华东区", "31", "销售部", "3", "总公司", "1")


def day(n: int, hour: int = 10) -> datetime:
    """Day ``n`` of the person's first month (day 1 is the join date), Beijing time."""
    return datetime(2026, 11, 2, hour, tzinfo=BEIJING) + timedelta(days=n - 1)


_serial = 0


def event(
    type: str,
    n: int,
    actor: str = "xiaoli",
    joined: date | None = JOINED,
    departments: tuple[str, ...] = SALES,
    external_id: str | None = None,
    **attributes: Any,
) -> Event:
    global _serial
    _serial += 1
    return Event(
        external_id or f"ch:{_serial}",
        type,
        actor,
        day(n),
        attributes,
        departments,
        joined,
    )


def meets_on_day_12(actor: str = "xiaoli") -> list[Event]:
    return [
        event("approval.submitted", 2, actor, on_time=True),
        event("doc.shared", 3, actor),
        event("approval.submitted", 5, actor, on_time=True),
        event("meeting.started", 7, actor),
        event("doc.shared", 9, actor),
        event("approval.submitted", 12, actor, on_time=True),  # the last goal met
        event("approval.submitted", 14, actor, on_time=True),
        event("doc.shared", 20, actor),
    ]


def play(events: list[Event], history: InMemoryHistory | None = None) -> list[Award]:
    history = history if history is not None else InMemoryHistory()
    awards: list[Award] = []
    for e in events:
        awards.extend(score_and_record(RULES, e, history, "Asia/Shanghai"))
    return awards


def test_a_new_joiner_who_meets_every_goal_on_day_12_gets_the_award_once() -> None:
    history = InMemoryHistory()
    awards = play(meets_on_day_12(), history)
    assert [(a.rule_id, a.points, a.badge, a.kind) for a in awards] == [
        ("newcomer", 50, "新星", "challenge")
    ]
    assert awards[0].occurred_at == day(12)
    assert awards[0].reason_zh == "完成挑战：新人挑战 · 第 12 天完成"
    assert awards[0].reason_en == "Challenge completed: Newcomer challenge · on day 12"
    standing = progress_of(RULES.rules[0], history.of("xiaoli").progress["newcomer"], JOINED, SALES)
    assert standing.done and standing.met_goals == 3 and standing.percent == 100
    assert [(g.title, g.shown, g.target) for g in standing.goals] == [
        ("按时提交审批", 3, 3),
        ("分享文档 ×2", 2, 2),
        ("发起会议", 1, 1),
    ]
    assert standing.end == JOINED + timedelta(days=29)


def test_who_misses_one_goal_gets_nothing_and_sees_what_is_missing() -> None:
    events = [e for e in meets_on_day_12("xiaowang") if e.type != "meeting.started"]
    history = InMemoryHistory()
    assert play(events, history) == []
    standing = progress_of(
        RULES.rules[0], history.of("xiaowang").progress["newcomer"], JOINED, SALES
    )
    assert not standing.done
    assert [(g.shown, g.target, g.met) for g in standing.goals] == [
        (3, 3, True),
        (2, 2, True),
        (0, 1, False),
    ]
    assert standing.days_left(date(2026, 11, 20)) == 12  # 20 Nov – 1 Dec


def test_events_after_the_window_do_not_count() -> None:
    events = meets_on_day_12()
    late = [e for e in events if e.type != "meeting.started"] + [event("meeting.started", 31)]
    assert play(late) == []
    # Day 30 is the last day of a 30-day window.
    in_time = [e for e in events if e.type != "meeting.started"] + [event("meeting.started", 30)]
    assert [a.occurred_at for a in play(in_time)] == [day(30)]


def test_before_joining_and_without_a_join_date_nothing_counts() -> None:
    early = [
        Event(
            e.external_id,
            e.type,
            e.actor,
            e.occurred_at - timedelta(days=40),
            e.attributes,
            e.departments,
            e.joined,
        )
        for e in meets_on_day_12()
    ]
    assert play(early) == []
    unknown = [
        Event(e.external_id, e.type, e.actor, e.occurred_at, e.attributes, e.departments, None)
        for e in meets_on_day_12()
    ]
    assert play(unknown) == []


def test_a_replay_of_the_same_events_never_awards_twice() -> None:
    history = InMemoryHistory()
    events = meets_on_day_12()
    assert len(play(events, history)) == 1
    assert play(events, history) == []  # the same history: already met
    assert len(play(events)) == 1  # a fresh one (a simulation) gives the same award


def _scored_with_contributions(
    events: list[Event],
) -> tuple[InMemoryHistory, list[Award], dict[str, dict[str, Any]]]:
    """Score like the live scorer: keep what each event added to the challenge's state."""
    history = InMemoryHistory()
    awards: list[Award] = []
    added: dict[str, dict[str, Any]] = {}
    for e in events:
        past = history.of(e.actor)
        outcome = score_event(RULES, e, past, "Asia/Shanghai")
        for rule_id, state in outcome.progress:
            added[e.external_id] = contribution(past.progress.get(rule_id), state)
        past.record(outcome)
        awards += outcome.awards
    return history, awards, added


def test_a_revoked_event_takes_the_award_back_only_below_a_target() -> None:
    events = meets_on_day_12()
    history, awards, added = _scored_with_contributions(events)
    assert len(awards) == 1
    rule = RULES.rules[0]
    assert rule.keeps is not None
    state = history.of("xiaoli").progress["newcomer"]
    # Four on-time approvals against a target of three: one revoked leaves it met.
    state = withdraw(state, added[events[0].external_id])
    assert state["counts"] == [3, 3, 1] and rule.keeps(state, None)
    # The only meeting revoked: the meeting goal falls below its target.
    state = withdraw(state, added[events[3].external_id])
    assert state["counts"] == [3, 3, 0] and not rule.keeps(state, None)
    # Meeting again inside the window earns it anew (the first award went back).
    history.of("xiaoli").progress["newcomer"] = state
    assert [a.rule_id for a in play([event("meeting.started", 22)], history)] == ["newcomer"]


def test_first_event_and_fixed_date_windows() -> None:
    rules = compile_ruleset(
        """
- id: sprint
  title: 冲刺
  challenge:
    window: {days: 7, starts: first_event}
    goals: [{when: doc.shared, count: 2}]
  points: 10
- id: december
  title: 十二月挑战
  challenge:
    window: {days: 31, starts: "2026-12-01"}
    goals: [{when: meeting.started}]
  points: 5
"""
    )
    history = InMemoryHistory()
    got = []
    for e in [
        event("doc.shared", 1),  # opens the 7-day window
        event("doc.shared", 9),  # too late: the window has closed
        event("meeting.started", 29),  # 2026-11-30: before December
        event("meeting.started", 30),  # 2026-12-01
    ]:
        got += [(a.rule_id, a.occurred_at) for a in score_and_record(rules, e, history)]
    assert got == [("december", day(30))]
    history = InMemoryHistory()
    ids = [
        a.rule_id
        for e in [event("doc.shared", 3), event("doc.shared", 9)]
        for a in score_and_record(rules, e, history)
    ]
    assert ids == ["sprint"]


def test_a_goal_for_some_departments_is_not_on_everyone_s_list() -> None:
    rules = compile_ruleset(
        """
- id: onboarding
  title: 新手任务
  challenge:
    window: {days: 30, starts: joined}
    goals:
      - {when: approval.submitted}
      - {when: customer.tagged, departments: [销售部]}
  points: 30
"""
    )
    office = ("行政部", "2", "总公司", "1")
    history = InMemoryHistory()
    assert [
        a.rule_id
        for a in score_and_record(
            rules, event("approval.submitted", 2, "clerk", departments=office), history
        )
    ] == ["onboarding"]
    seller = [
        event("approval.submitted", 2, "seller"),
        event("customer.tagged", 4, "seller", tag_count=1),
    ]
    history = InMemoryHistory()
    assert [[a.rule_id for a in score_and_record(rules, e, history)] for e in seller] == [
        [],
        ["onboarding"],
    ]
    standing = progress_of(rules.rules[0], None, JOINED, office)
    assert len(standing.goals) == 1


def test_campaign_multipliers_do_not_double_a_completion_bonus() -> None:
    rules = compile_ruleset(
        CHALLENGE
        + """
- id: boost
  title: 双倍
  multiplier: 2
"""
    )
    history = InMemoryHistory()
    awards = [a for e in meets_on_day_12() for a in score_and_record(rules, e, history)]
    assert [a.rule_id for a in awards] == ["newcomer"]


@pytest.mark.parametrize(
    ("text", "line", "message", "suggestion"),
    [
        (
            "    window: {days: 30, starts: joind}\n    goals: [{when: doc.shared}]\n",
            4,
            "`starts` must be joined, first_event or a date, got 'joind'",
            "did you mean `joined`?",
        ),
        (
            "    window: {days: 30, starts: '2026-02-30'}\n    goals: [{when: doc.shared}]\n",
            4,
            "`starts` must be joined, first_event or a date, got '2026-02-30'",
            "write a date like 2026-12-01",
        ),
        (
            "    window: {days: 30}\n    goals: []\n",
            5,
            "a challenge needs at least one goal",
            "add goals: [{when: approval.submitted, count: 1}]",
        ),
        (
            "    window: {days: 30}\n    goals:\n      - {when: doc.shared, count: 0}\n",
            6,
            "must be at least 1, got 0",
            "write challenge: {window: {days: 30, starts: joined}, goals: [{when: …, count: N}]}",
        ),
        (
            "    window: {days: 30}\n    goals:\n      - {when: doc.shraed}\n",
            6,
            "unknown event type `doc.shraed`",
            "did you mean `doc.shared`?",
        ),
        (
            "    window: {days: 30}\n    goals:\n      - {when: approval.submitted, if: on_tme}\n",
            6,
            "unknown field `on_tme`",
            "did you mean `on_time`?",
        ),
        (
            "    window: {days: 30}\n    goals:\n      - {when: doc.shared, cuont: 2}\n",
            6,
            "unknown field `cuont`",
            "did you mean `count`?",
        ),
        (
            "    windw: {days: 30}\n    goals: [{when: doc.shared}]\n",
            4,
            "unknown field `windw`",
            "did you mean `window`?",
        ),
    ],
)
def test_validate_refuses_misuse_with_a_line_and_a_suggestion(
    text: str, line: int, message: str, suggestion: str
) -> None:
    source = "- id: quest\n  title: 挑战\n  challenge:\n" + text + "  points: 10\n"
    errors = validate_text(source)
    assert [(e.line, e.message, e.suggestion) for e in errors] == [(line, message, suggestion)]


def test_validate_refuses_a_challenge_that_is_also_another_kind() -> None:
    source = """\
- id: quest
  title: 挑战
  when: doc.shared
  streak: {days: 3}
  challenge:
    window: {days: 30}
    goals: [{when: doc.shared}]
  points: 10
"""
    errors = validate_text(source)
    assert [(e.line, e.message, e.suggestion) for e in errors] == [
        (3, "a challenge cannot also have `when`", "put `when` and `if` in each goal"),
        (4, "a challenge cannot also have `streak`", None),
    ]


def test_validate_accepts_every_form_of_start() -> None:
    for start in ("joined", "first_event", "2026-12-01", "'2026-12-01'"):
        source = f"""\
- id: quest
  title: 挑战
  challenge:
    window: {{days: 30, starts: {start}}}
    goals: [{{when: doc.shared, if: "'销售部' in departments", count: 2}}]
  points: 10
  badge: 挑战者
"""
        assert validate_text(source) == [], start


_TYPES = ("approval.submitted", "doc.shared", "meeting.started", "checkin.recorded")
_streams = st.lists(
    st.tuples(st.sampled_from(_TYPES), st.integers(-5, 40), st.booleans(), st.integers(0, 9)),
    max_size=40,
)


def _counted(stream: list[tuple[str, int, bool, int]]) -> list[set[str]]:
    """The oracle: per goal, the distinct events that count (inside days 1–30)."""
    goals: list[set[str]] = [set(), set(), set()]
    for type_, n, on_time, ident in stream:
        if not 1 <= n <= 30:
            continue
        key = f"{type_}:{ident}"
        if type_ == "approval.submitted" and on_time:
            goals[0].add(key)
        elif type_ == "doc.shared":
            goals[1].add(key)
        elif type_ == "meeting.started":
            goals[2].add(key)
    return goals


def _events(stream: list[tuple[str, int, bool, int]]) -> list[Event]:
    ordered = sorted(stream, key=lambda item: item[1])
    return [
        event(type_, n, external_id=f"{type_}:{ident}", on_time=on_time)
        for type_, n, on_time, ident in ordered
    ]


def _unique(stream: list[tuple[str, int, bool, int]]) -> list[tuple[str, int, bool, int]]:
    """One event per id (its first sighting), in time order."""
    first: dict[str, tuple[str, int, bool, int]] = {}
    for item in sorted(stream, key=lambda item: item[1]):
        first.setdefault(f"{item[0]}:{item[3]}", item)
    return list(first.values())


def _complete(goals: list[set[str]]) -> bool:
    return len(goals[0]) >= 3 and len(goals[1]) >= 2 and len(goals[2]) >= 1


@settings(max_examples=200, deadline=None)
@given(_streams)
def test_property_awarded_once_exactly_when_every_goal_is_met(
    stream: list[tuple[str, int, bool, int]],
) -> None:
    unique = _unique(stream)
    history = InMemoryHistory()
    awards = play(_events(unique), history)
    goals = _counted(unique)
    assert len(awards) == (1 if _complete(goals) else 0)
    state = history.of("xiaoli").progress.get("newcomer")
    assert (state["counts"] if state else [0, 0, 0]) == [len(g) for g in goals]
    # Scoring the same events again (a simulation, a back-apply) gives the same; once
    # paid, more of the same never pays twice.
    assert len(play(_events(unique))) == len(awards)
    if awards:
        assert play(_events(unique), history) == []


@settings(max_examples=200, deadline=None)
@given(_streams, st.sets(st.integers(0, 9), max_size=5))
def test_property_revoking_takes_back_only_when_a_goal_falls_below(
    stream: list[tuple[str, int, bool, int]], revoked_idents: set[int]
) -> None:
    unique = _unique(stream)
    history, awards, added = _scored_with_contributions(_events(unique))
    state = history.of("xiaoli").progress.get("newcomer")
    if state is None:
        return
    revoked = {f"{t}:{i}" for t in _TYPES for i in revoked_idents}
    for external_id in sorted(revoked & set(added)):
        state = withdraw(state, added[external_id])
    remaining = _counted([item for item in unique if f"{item[0]}:{item[3]}" not in revoked])
    assert state["counts"] == [len(g) for g in remaining]
    keeps = RULES.rules[0].keeps
    assert keeps is not None
    # The award stays exactly when every goal is still met without the revoked events.
    if awards:
        assert keeps(state, None) == _complete(remaining)
