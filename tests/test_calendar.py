"""The company calendar: keys, windows, and comparing like with like."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from points.calendar import (
    Period,
    bounds,
    bounds_at,
    elapsed,
    first_day,
    fit_key,
    is_closed,
    is_key,
    key_at,
    key_of_day,
    keys_at,
    next_first_day,
    previous_key,
    recent_keys,
    same_elapsed_previous,
    weeks_ending,
)
from points.errors import InvalidInput
from rules.periods import PERIODS, period_key, period_key_at

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_the_rule_languages_copy_agrees_on_every_day_of_2024_to_2027() -> None:
    # rules/ must not import points/, so it keeps its own pure copy of the keys.
    day, checked = date(2024, 1, 1), 0
    while day.year < 2028:
        for name in PERIODS:
            assert period_key(name, day) == key_of_day(Period(name), day), (name, day)
            # Both cut instants in the company's zone the same way (23:30 local is that day).
            late = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=23.5)
            assert period_key_at(name, late, SHANGHAI) == key_at(Period(name), late, SHANGHAI)
            # And every key names a window that contains the day.
            key = key_of_day(Period(name), day)
            assert first_day(Period(name), key) <= day < next_first_day(Period(name), key)
            checked += 1
        day += timedelta(days=1)
    assert checked == 1461 * len(PERIODS)


def test_keys_are_cut_in_the_company_zone() -> None:
    # 15:30 UTC on 23 November is 23:30 in Shanghai; 16:30 UTC is already the 24th.
    before = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    after = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    assert dict(keys_at(before, SHANGHAI)) == {
        Period.day: "2026-11-23",
        Period.week: "2026-W48",
        Period.month: "2026-11",
        Period.quarter: "2026-Q4",
        Period.year: "2026",
        Period.all: "all",
    }
    assert key_at(Period.day, after, SHANGHAI) == "2026-11-24"
    # 2026-12-31 is in ISO week 53 of 2026; 2027-01-01 too.
    assert key_of_day(Period.week, date(2027, 1, 1)) == "2026-W53"


@pytest.mark.parametrize(
    ("period", "key", "start", "end"),
    [
        (Period.day, "2026-02-28", "2026-02-28", "2026-03-01"),
        (Period.week, "2026-W01", "2025-12-29", "2026-01-05"),
        (Period.month, "2026-12", "2026-12-01", "2027-01-01"),
        (Period.quarter, "2026-Q4", "2026-10-01", "2027-01-01"),
        (Period.year, "2026", "2026-01-01", "2027-01-01"),
    ],
)
def test_bounds_are_local_midnights(period: Period, key: str, start: str, end: str) -> None:
    assert bounds(period, key, SHANGHAI) == (at(start), at(end))
    assert bounds_at(period, at(start) + timedelta(hours=12), SHANGHAI) == (at(start), at(end))


def test_neighbours_and_choosers() -> None:
    assert previous_key(Period.week, "2026-W01") == "2025-W52"
    assert previous_key(Period.quarter, "2026-Q1") == "2025-Q4"
    assert previous_key(Period.all, "all") == "all"
    assert recent_keys(Period.month, "2026-02", 3) == ["2026-02", "2026-01", "2025-12"]
    assert is_closed(Period.week, "2026-W48", at("2026-11-30"), SHANGHAI)
    assert not is_closed(Period.week, "2026-W48", at("2026-11-29T23:59:59"), SHANGHAI)
    assert not is_closed(Period.all, "all", at("2099-01-01"), SHANGHAI)


def test_a_key_of_another_period_falls_back_to_the_current_one() -> None:
    now = at("2026-11-27T15:00")
    assert not is_key(Period.week, "2026-11")
    assert fit_key(Period.week, "2026-11", now, SHANGHAI) == "2026-W48"
    assert fit_key(Period.quarter, "2026-W48", now, SHANGHAI) == "2026-Q4"
    assert fit_key(Period.year, "2026-Q4", now, SHANGHAI) == "2026"
    assert fit_key(Period.month, "2026-13", now, SHANGHAI) == "2026-11"
    assert fit_key(Period.month, None, now, SHANGHAI) == "2026-11"
    assert fit_key(Period.month, "2025-03", now, SHANGHAI) == "2025-03"  # a fitting key stays
    with pytest.raises(InvalidInput):
        first_day(Period.week, "2026-11")


def test_the_same_elapsed_part_of_the_previous_period() -> None:
    now = at("2026-11-27T15:00")
    assert elapsed(Period.month, "2026-11", now, SHANGHAI) == (at("2026-11-01"), now)
    assert same_elapsed_previous(Period.month, "2026-11", now, SHANGHAI) == (
        at("2026-10-01"),
        at("2026-10-27T15:00"),
    )
    # A longer month than the one before: cut at the previous month's end.
    march_end = at("2027-03-31T10:00")
    assert same_elapsed_previous(Period.month, "2027-03", march_end, SHANGHAI) == (
        at("2027-02-01"),
        at("2027-03-01"),
    )
    # A closed period compares with the whole previous one.
    later = at("2026-12-05")
    assert same_elapsed_previous(Period.month, "2026-11", later, SHANGHAI) == (
        at("2026-10-01"),
        at("2026-11-01"),
    )
    # Wednesday noon of a week: Monday 00:00 to Wednesday 12:00 of the week before.
    wednesday = at("2026-11-25T12:00")
    assert same_elapsed_previous(Period.week, "2026-W48", wednesday, SHANGHAI) == (
        at("2026-11-16"),
        at("2026-11-18T12:00"),
    )


def test_weeks_ending() -> None:
    weeks = weeks_ending(at("2026-11-30"), SHANGHAI, 3)
    assert weeks == [
        (at("2026-11-09"), at("2026-11-16")),
        (at("2026-11-16"), at("2026-11-23")),
        (at("2026-11-23"), at("2026-11-30")),
    ]
