"""`streak: {workdays: N}`: runs of working days in the company calendar."""

from __future__ import annotations

from datetime import date, timedelta

from rules import compile_ruleset, validate_text
from rules.workdays import WEEKDAYS, WorkCalendar
from tests.rules.helpers import at, make_event, run

WORKDAYS = """
- id: checkin-workdays
  title: 按时打卡
  title_en: On-time check-in
  when: checkin.recorded
  if: on_time
  streak: {workdays: 10}
  points: 30
  badge: 全勤之星
"""

# 2026 as the State Council published it: National Day 10-01…10-07 off, 09-20 and
# 10-10 (Sunday, Saturday) working days.
NATIONAL_DAY = WorkCalendar.of(
    off=[date(2026, 10, d) for d in range(1, 8)], work=[date(2026, 9, 20), date(2026, 10, 10)]
)


def checkins(days: list[date], on_time: bool = True) -> list:  # type: ignore[type-arg]
    return [
        make_event("checkin.recorded", occurred_at=at(f"{d.isoformat()} 08:55"), on_time=on_time)
        for d in days
    ]


def weekdays(first: date, last: date) -> list[date]:
    days = []
    day = first
    while day <= last:
        if day.isoweekday() <= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_working_day_ordinals_skip_weekends_and_holidays() -> None:
    friday, monday = date(2026, 11, 20), date(2026, 11, 23)
    assert WEEKDAYS.ordinal(monday) == (WEEKDAYS.ordinal(friday) or 0) + 1
    assert WEEKDAYS.ordinal(date(2026, 11, 21)) is None
    # Around National Day: Wednesday 09-30, then Thursday 10-08.
    assert (
        NATIONAL_DAY.ordinal(date(2026, 10, 8))
        == (NATIONAL_DAY.ordinal(date(2026, 9, 30)) or 0) + 1
    )
    assert NATIONAL_DAY.ordinal(date(2026, 10, 1)) is None
    assert NATIONAL_DAY.is_workday(date(2026, 10, 10))
    assert NATIONAL_DAY.years() == frozenset({2026})


def test_two_working_weeks_across_a_weekend_earn_the_bonus_once() -> None:
    rules = compile_ruleset(WORKDAYS, version=1)
    days = weekdays(date(2026, 11, 16), date(2026, 11, 27))
    assert len(days) == 10
    awards = [a for a in run(rules, checkins(days)) if a.rule_id == "checkin-workdays"]
    assert [(a.occurred_at.date(), a.points, a.badge) for a in awards] == [
        (date(2026, 11, 27), 30, "全勤之星")
    ]
    assert awards[0].reason_zh == "连续 10 个工作日按时打卡"
    assert awards[0].reason_en == "On-time check-in · 10 working days in a row"


def test_a_statutory_holiday_inside_the_run_does_not_break_it() -> None:
    rules = compile_ruleset(WORKDAYS, version=1).with_calendar(NATIONAL_DAY)
    # 09-21…09-30 (8 working days), the holiday, 10-08 and 10-09: ten in a row.
    days = [*weekdays(date(2026, 9, 21), date(2026, 9, 30)), date(2026, 10, 8), date(2026, 10, 9)]
    awards = run(rules, checkins(days))
    assert [a.occurred_at.date() for a in awards] == [date(2026, 10, 9)]


def test_a_missed_working_day_breaks_the_run() -> None:
    rules = compile_ruleset(WORKDAYS, version=1)
    days = [d for d in weekdays(date(2026, 11, 16), date(2026, 11, 27)) if d != date(2026, 11, 18)]
    assert run(rules, checkins(days)) == []
    # A make-up working day (调休上班) counts as a working day too: missing it breaks.
    with_makeup = compile_ruleset(WORKDAYS, version=1).with_calendar(NATIONAL_DAY)
    days = weekdays(date(2026, 10, 8), date(2026, 10, 21))  # ten, but not Saturday 10-10
    assert run(with_makeup, checkins(days)) == []
    days = sorted([*weekdays(date(2026, 10, 8), date(2026, 10, 20)), date(2026, 10, 10)])
    assert [a.occurred_at.date() for a in run(with_makeup, checkins(days))] == [date(2026, 10, 20)]


def test_an_event_on_a_day_off_neither_counts_nor_breaks() -> None:
    rules = compile_ruleset(WORKDAYS, version=1)
    days = sorted([*weekdays(date(2026, 11, 16), date(2026, 11, 27)), date(2026, 11, 21)])
    awards = run(rules, checkins(days))
    assert [a.occurred_at.date() for a in awards] == [date(2026, 11, 27)]


def test_the_next_ten_working_days_earn_it_again() -> None:
    rules = compile_ruleset(WORKDAYS, version=1)
    days = weekdays(date(2026, 11, 2), date(2026, 11, 27))
    awards = run(rules, checkins(days))
    assert [a.occurred_at.date() for a in awards] == [date(2026, 11, 13), date(2026, 11, 27)]


def test_the_validator_accepts_workdays_and_refuses_mixing_them() -> None:
    assert validate_text(WORKDAYS) == []
    [error] = validate_text(WORKDAYS.replace("{workdays: 10}", "{workdays: 10, days: 5}"))
    assert str(error) == (
        "line 7: rule `checkin-workdays`, field `streak`: give exactly one of `days`, `weeks`"
        " or `workdays` — keep `workdays` and remove the rest"
    )
    [error] = validate_text(WORKDAYS.replace("{workdays: 10}", "{workday: 10}"))
    assert str(error).endswith("unknown field `workday` — did you mean `workdays`?")
    [error] = validate_text(WORKDAYS.replace("{workdays: 10}", "{workdays: 1}"))
    assert "must be at least 2" in str(error)
