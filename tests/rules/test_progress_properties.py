"""Hypothesis: the promises of milestones and working-day streaks for any stream."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules import Award, Event, InMemoryHistory, compile_ruleset, history_from_ledger, score_event
from rules.progress import contribution, withdraw
from rules.workdays import WorkCalendar
from tests.rules.helpers import BEIJING

RULES = """
- id: shares
  title: 分享文档
  when: doc.shared
  milestone:
    levels:
      - {at: 2, points: 1}
      - {at: 5, points: 2}
      - {at: 9, points: 3, badge: 金}
- id: minutes
  title: 会议时长
  when: meeting.attended
  milestone:
    sum: attributes.duration_minutes
    levels:
      - {at: 60, points: 1}
      - {at: 150.5, points: 2}
- id: workdays
  title: 按时打卡
  when: checkin.recorded
  if: on_time
  streak: {workdays: 3}
  points: 5
"""
START = datetime(2026, 9, 24, 9, 0, tzinfo=BEIJING)  # runs through National Day 2026
CALENDAR = WorkCalendar.of(
    off=[date(2026, 10, d) for d in range(1, 8)], work=[date(2026, 9, 27), date(2026, 10, 10)]
)
COMPILED = compile_ruleset(RULES, version=1).with_calendar(CALENDAR)
LEVELS = {"shares": (2, 5, 9), "minutes": (60, 150.5)}
SETTINGS = settings(max_examples=100, deadline=None)


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(0, 40))
    events: list[Event] = []
    moment = START
    for serial in range(count):
        moment += timedelta(hours=draw(st.integers(0, 40)))
        kind = draw(st.sampled_from(["doc.shared", "meeting.attended", "checkin.recorded"]))
        attributes: dict[str, Any] = {
            "duration_minutes": draw(st.one_of(st.none(), st.integers(-5, 90), st.floats(0, 90))),
            "on_time": draw(st.booleans()),
        }
        actor = draw(st.sampled_from(["zhang", "li"]))
        events.append(Event(f"p:{serial}", kind, actor, moment, attributes))
    return events


def one_pass(events: list[Event]) -> tuple[list[Award], InMemoryHistory]:
    history = InMemoryHistory()
    awards: list[Award] = []
    for event in events:
        outcome = score_event(COMPILED, event, history)
        history.record(event.actor, outcome)
        awards.extend(outcome.awards)
    return awards, history


def _amount(rule: str, event: Event) -> float:
    if rule == "shares":
        return 1 if event.type == "doc.shared" else 0
    value = event.attributes.get("duration_minutes")
    ok = event.type == "meeting.attended" and isinstance(value, int | float) and value > 0
    return value if ok else 0


@SETTINGS
@given(streams())
def test_each_level_is_awarded_once_by_the_event_that_reaches_it(events: list[Event]) -> None:
    awards, history = one_pass(events)
    for rule, levels in LEVELS.items():
        for actor in ("zhang", "li"):
            total: float = 0
            expected: list[tuple[str, str]] = []
            for event in events:
                if event.actor != actor:
                    continue
                before, total = total, total + _amount(rule, event)
                expected += [
                    (event.external_id, f"{at:g}") for at in levels if before < at <= total
                ]
            got = [
                (a.event_id, a.once_value) for a in awards if a.rule_id == rule and a.actor == actor
            ]
            assert got == expected
            state = history.of(actor).progress.get(rule, {"total": 0})
            assert abs(state["total"] - total) < 1e-6


@SETTINGS
@given(streams(), st.lists(st.integers(0, 40), max_size=4))
def test_batch_boundaries_do_not_matter(events: list[Event], cuts: list[int]) -> None:
    """Rebuilding history from stored states and the ledger between batches is one pass."""
    expected, _history = one_pass(events)
    ledger: list[Award] = []
    stored: dict[str, dict[str, Any]] = defaultdict(dict)
    streaks: dict[str, dict[str, Any]] = defaultdict(dict)
    bounds = sorted({0, len(events), *(min(c, len(events)) for c in cuts)})
    for start, end in pairwise(bounds):
        history = InMemoryHistory()
        for actor in ("zhang", "li"):
            mine = [a for a in ledger if a.actor == actor]
            history.actors[actor] = history_from_ledger(mine, streaks[actor], stored[actor])
        for event in events[start:end]:
            outcome = score_event(COMPILED, event, history)
            history.record(event.actor, outcome)
            ledger.extend(outcome.awards)
            stored[event.actor].update(outcome.progress)
            streaks[event.actor].update(outcome.streaks)
    assert ledger == expected


@SETTINGS
@given(streams(), st.integers(0, 39))
def test_withdrawing_an_event_is_as_if_it_never_counted(events: list[Event], pick: int) -> None:
    """The live store: subtract one event's contribution; levels kept are those still reached."""
    if not events:
        return
    gone = events[pick % len(events)]
    history = InMemoryHistory()
    added: dict[str, dict[str, Any]] = {}
    for event in events:
        past = history.of(event.actor)
        outcome = score_event(COMPILED, event, history)
        if event is gone:
            added = {r: contribution(past.progress.get(r), s) for r, s in outcome.progress}
        history.record(event.actor, outcome)
    without, _h = one_pass([e for e in events if e is not gone])
    rest = InMemoryHistory()
    for event in events:
        if event is not gone:
            rest.record(event.actor, score_event(COMPILED, event, rest))
    for rule, delta in added.items():
        state = withdraw(history.of(gone.actor).progress[rule], delta)
        remaining = rest.of(gone.actor).progress.get(rule, {"total": 0})
        assert abs(state["total"] - remaining["total"]) < 1e-6
        plan = COMPILED.get(rule)
        assert plan is not None and plan.keeps is not None
        kept = {f"{at:g}" for at in LEVELS[rule] if plan.keeps(state, f"{at:g}")}
        reached = {a.once_value for a in without if a.rule_id == rule and a.actor == gone.actor}
        assert kept == reached


def _oracle(events: list[Event], actor: str) -> list[str]:
    """Working-day runs counted the slow way: walk the calendar day by day."""
    days: list[tuple[date, str]] = []
    for event in events:
        local = event.occurred_at.astimezone(BEIJING).date()
        if (
            event.actor == actor
            and event.type == "checkin.recorded"
            and event.attributes["on_time"]
            and CALENDAR.is_workday(local)
            and (not days or local > days[-1][0])
        ):
            days.append((local, event.external_id))
    awarded: list[str] = []
    length = 0
    previous: date | None = None
    for day, external_id in days:
        if previous is not None:
            step = previous + timedelta(days=1)
            while not CALENDAR.is_workday(step):
                step += timedelta(days=1)
            length = length + 1 if step == day else 1
        else:
            length = 1
        previous = day
        if length % 3 == 0:
            awarded.append(external_id)
    return awarded


@SETTINGS
@given(streams())
def test_working_day_streaks_match_a_day_by_day_walk(events: list[Event]) -> None:
    awards, _history = one_pass(events)
    for actor in ("zhang", "li"):
        got = [a.event_id for a in awards if a.rule_id == "workdays" and a.actor == actor]
        assert got == _oracle(events, actor)


@SETTINGS
@given(
    st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=30),
    st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=10),
    st.dates(date(2026, 1, 1), date(2027, 12, 20)),
)
def test_consecutive_working_days_have_consecutive_ordinals(
    off: set[date], work: set[date], day: date
) -> None:
    calendar = WorkCalendar.of(off, work)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    following = day + timedelta(days=1)
    while not calendar.is_workday(following):
        following += timedelta(days=1)
    assert calendar.ordinal(following) == (calendar.ordinal(day) or 0) + 1
