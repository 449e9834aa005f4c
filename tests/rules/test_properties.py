"""Hypothesis: the promises that must hold for any stream of events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from rules import (
    Award,
    CompiledRuleset,
    Event,
    InMemoryHistory,
    StreakState,
    compile_ruleset,
    history_from_ledger,
    period_key_at,
    score_event,
)
from tests.rules.helpers import T0

RULES = """
- id: approval-on-time
  title: 按时提交审批
  when: approval.submitted
  if: on_time
  points: 5
  once_per: attributes.sp_no
  cap: {per: day, max: 12}
- id: doc-shared
  title: 分享文档
  when: doc.shared
  points: 3
  cooldown: 2h
  cap: {per: week, max: 10}
- id: first-meeting
  title: 第一次发起会议
  when: meeting.started
  first_time: true
  points: 20
- id: checkin-streak
  title: 连续打卡
  when: checkin.recorded
  streak: {days: 2}
  points: 4
  cap: {per: month, max: 9}
- id: boost
  title: 双倍
  multiplier: 2
  departments: [销售部]
  cap: {per: day, max: 7}
"""
COMPILED = compile_ruleset(RULES, version=1)
CAPS = {
    "approval-on-time": ("day", 12),
    "doc-shared": ("week", 10),
    "checkin-streak": ("month", 9),
    "boost": ("day", 7),
}

TYPES = ("approval.submitted", "doc.shared", "meeting.started", "checkin.recorded", "app.entered")


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """Time-ordered events of a few people over a few weeks."""
    count = draw(st.integers(min_value=0, max_value=60))
    gaps = draw(st.lists(st.integers(0, 36 * 60), min_size=count, max_size=count))
    events: list[Event] = []
    moment = T0
    for serial, gap in enumerate(gaps):
        moment += timedelta(minutes=gap)
        event_type = draw(st.sampled_from(TYPES))
        attributes = {
            "sp_no": draw(st.sampled_from(["A", "B", "C", "D", "E", "F"])),
            "on_time": draw(st.booleans()),
            "template": "报销",
        }
        events.append(
            Event(
                external_id=f"p:{serial}",
                type=event_type,
                actor=draw(st.sampled_from(["zhang", "li", "wang"])),
                occurred_at=moment,
                attributes=attributes,
                departments=draw(st.sampled_from([("销售部", "3"), ("技术部", "6")])),
            )
        )
    return events


def one_pass(events: list[Event]) -> list[Award]:
    history = InMemoryHistory()
    awards: list[Award] = []
    for event in events:
        outcome = score_event(COMPILED, event, history)
        history.record(event.actor, outcome)
        awards.extend(outcome.awards)
    return awards


SETTINGS = settings(max_examples=120, deadline=None)


@SETTINGS
@given(streams())
def test_caps_are_never_exceeded(events: list[Event]) -> None:
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for award in one_pass(events):
        if award.rule_id in CAPS:
            per, cap = CAPS[award.rule_id]
            key = period_key_at(per, award.occurred_at)  # type: ignore[arg-type]
            assert award.period_key == key
            totals[(award.actor, award.rule_id, key)] += award.points
            assert 0 < totals[(award.actor, award.rule_id, key)] <= cap


@SETTINGS
@given(streams())
def test_a_cap_hands_out_the_remainder(events: list[Event]) -> None:
    # +5 each until the daily cap of 12: 5, 5, then the remaining 2, then nothing.
    per_day: dict[tuple[str, str], list[int]] = defaultdict(list)
    for award in one_pass(events):
        if award.rule_id == "approval-on-time":
            per_day[(award.actor, str(award.period_key))].append(award.points)
    for given_points in per_day.values():
        assert given_points == [5, 5, 2][: len(given_points)]


@SETTINGS
@given(streams())
def test_once_per_never_awards_a_value_twice(events: list[Event]) -> None:
    values = [(a.actor, a.once_value) for a in one_pass(events) if a.rule_id == "approval-on-time"]
    assert len(values) == len(set(values))


@SETTINGS
@given(streams())
def test_cooldowns_hold(events: list[Event]) -> None:
    last: dict[str, datetime] = {}
    for award in one_pass(events):
        if award.rule_id == "doc-shared":
            previous = last.get(award.actor)
            if previous is not None:
                assert award.occurred_at - previous >= timedelta(hours=2)
            last[award.actor] = award.occurred_at


@SETTINGS
@given(streams())
def test_first_time_awards_once_per_person(events: list[Event]) -> None:
    actors = [a.actor for a in one_pass(events) if a.rule_id == "first-meeting"]
    assert len(actors) == len(set(actors))


@SETTINGS
@given(streams())
def test_evaluation_is_deterministic(events: list[Event]) -> None:
    first = one_pass(events)
    again = [
        award
        for event, outcome in _replay(compile_ruleset(RULES, version=1), events)
        for award in outcome
    ]
    assert first == again
    assert [a.reason_zh for a in first] == [a.reason_zh for a in again]


def _replay(rules: CompiledRuleset, events: list[Event]) -> Iterator[tuple[Event, list[Award]]]:
    history = InMemoryHistory()
    for event in events:
        outcome = score_event(rules, event, history)
        history.record(event.actor, outcome)
        yield event, outcome.awards


@SETTINGS
@given(streams(), st.lists(st.integers(0, 60), max_size=5))
def test_batch_boundaries_do_not_matter(events: list[Event], cuts: list[int]) -> None:
    """Scoring in batches, rebuilding history from the ledger between batches, is one pass."""
    expected = one_pass(events)
    ledger: list[Award] = []
    streaks: dict[str, dict[str, StreakState]] = defaultdict(dict)
    bounds = sorted({0, len(events), *(min(c, len(events)) for c in cuts)})
    for start, end in pairwise(bounds):
        # A new batch starts from what a database would hold: entries and streak states.
        per_actor: dict[str, list[Award]] = defaultdict(list)
        for award in ledger:
            per_actor[award.actor].append(award)
        history = InMemoryHistory()
        for actor in {e.actor for e in events}:
            history.actors[actor] = history_from_ledger(per_actor[actor], streaks[actor])
        for event in events[start:end]:
            outcome = score_event(COMPILED, event, history)
            history.record(event.actor, outcome)
            ledger.extend(outcome.awards)
            for rule_id, state in outcome.streaks:
                streaks[event.actor][rule_id] = state
    assert ledger == expected
