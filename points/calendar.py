"""The company calendar: periods, their keys and windows, all in ``POINTS_TIMEZONE``.

Every count of "this week" or "this month" in the product goes through here: the
period scores the ledger writes, boards, dashboards, redemption limits, digests.
A moment belongs to the local day it falls on in the company's zone, so a
check-in at 23:30 Beijing time counts for that Beijing day (15:30 UTC).

Keys are distinct across periods so one mapping can hold them all:
``2026-11-24`` (day), ``2026-W48`` (ISO week), ``2026-11`` (month), ``2026-Q4``,
``2026`` (year) and ``all``. The rule language (``rules/periods.py``) keeps its
own pure copy of the day/week/month/quarter keys because ``rules`` must not
import ``points``; a test proves both agree on every day of 2024–2027.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from points.bounds import FIRST_DAY, LAST_DAY
from points.errors import InvalidInput
from points.i18n import _


class Period(enum.StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"
    all = "all"


# The first local day of ``all``: before any company used the product.
EPOCH = date(2000, 1, 1)
# The (exclusive) end of ``all``.
END_OF_TIME = date(9999, 1, 1)

_PATTERNS = {
    Period.day: re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    Period.week: re.compile(r"^(\d{4})-W(\d{2})$"),
    Period.month: re.compile(r"^(\d{4})-(\d{2})$"),
    Period.quarter: re.compile(r"^(\d{4})-Q([1-4])$"),
    Period.year: re.compile(r"^(\d{4})$"),
    Period.all: re.compile(r"^all$"),
}


def parse_period(value: str) -> Period:
    """A period name from a URL or a form; a clear 422 for anything else."""
    try:
        return Period(value)
    except ValueError:
        names = ", ".join(p.value for p in Period)
        raise InvalidInput(_("Unknown period; use one of: {names}").format(names=names)) from None


# ---------------------------------------------------------------------------- days


def local_day(moment: datetime, zone: tzinfo) -> date:
    """The company's local day ``moment`` falls on."""
    return moment.astimezone(zone).date()


def day_start(day: date, zone: tzinfo) -> datetime:
    """Local midnight at the start of ``day``, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=zone)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` months earlier (31 March minus one month is 28/29 February)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise ValueError(day)


# ---------------------------------------------------------------------------- keys


def key_of_day(period: Period, day: date) -> str:
    """The key of the period a local day falls in."""
    return _key_of_day(period, day.year, day.month, day.day)


@lru_cache(maxsize=16384)
def _key_of_day(period: Period, year: int, month: int, day: int) -> str:
    if period == Period.day:
        return f"{year:04d}-{month:02d}-{day:02d}"
    if period == Period.week:
        iso = date(year, month, day).isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    if period == Period.month:
        return f"{year:04d}-{month:02d}"
    if period == Period.quarter:
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    if period == Period.year:
        return f"{year:04d}"
    return "all"


def keys_at(moment: datetime, zone: tzinfo) -> tuple[tuple[Period, str], ...]:
    """Every period a moment falls in, cut in the company's zone (what scores are kept by)."""
    local = moment.astimezone(zone)
    return _keys_of_day(local.year, local.month, local.day)


def keys_of_day(day: date) -> tuple[tuple[Period, str], ...]:
    """Every period a local day falls in."""
    return _keys_of_day(day.year, day.month, day.day)


# Every ledger posting asks; the answer depends only on the local day.
@lru_cache(maxsize=4096)
def _keys_of_day(year: int, month: int, day: int) -> tuple[tuple[Period, str], ...]:
    return tuple((period, _key_of_day(period, year, month, day)) for period in Period)


def key_at(period: Period, moment: datetime, zone: tzinfo) -> str:
    """The key of the period ``moment`` falls in, in the company's zone."""
    local = moment.astimezone(zone)
    return _key_of_day(period, local.year, local.month, local.day)


def first_day(period: Period, key: str) -> date:
    """The first local day of the period named by ``key`` (InvalidInput if it is not one)."""
    found = _first_day(period, key)
    if found is None:
        raise InvalidInput(_("{key} is not a {period} key").format(key=key, period=period.value))
    return found


def _first_day(period: Period, key: str) -> date | None:
    match = _PATTERNS[period].match(key)
    if match is None:
        return None
    if period == Period.all:
        return EPOCH
    parts = [int(p) for p in match.groups()]
    if not FIRST_DAY.year <= parts[0] <= LAST_DAY.year:
        return None  # 9999-12: a typo, and date arithmetic breaks at the edges
    try:
        if period == Period.day:
            return date(parts[0], parts[1], parts[2])
        if period == Period.week:
            return date.fromisocalendar(parts[0], parts[1], 1)
        if period == Period.month:
            return date(parts[0], parts[1], 1)
        if period == Period.quarter:
            return date(parts[0], 3 * (parts[1] - 1) + 1, 1)
        return date(parts[0], 1, 1)
    except ValueError:
        return None


def is_key(period: Period, key: str) -> bool:
    """True when ``key`` names a period of this kind (``2026-11`` is a month, not a week)."""
    return _first_day(period, key) is not None


def fit_key(period: Period, key: str | None, now: datetime, zone: tzinfo) -> str:
    """``key`` when it names a period of this kind, otherwise the current one.

    A page that switches from month to week keeps the month's key in its form; the
    person meant "show me weeks", so they get this week, never an error.
    """
    if key and is_key(period, key):
        return key
    return key_at(period, now, zone)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def next_first_day(period: Period, key: str) -> date:
    """The first local day after the period."""
    start = first_day(period, key)
    if period == Period.day:
        return start + timedelta(days=1)
    if period == Period.week:
        return start + timedelta(days=7)
    if period == Period.month:
        return _add_months(start, 1)
    if period == Period.quarter:
        return _add_months(start, 3)
    if period == Period.year:
        return date(start.year + 1, 1, 1)
    return END_OF_TIME


def bounds(period: Period, key: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the period as aware datetimes (local midnights)."""
    return day_start(first_day(period, key), zone), day_start(next_first_day(period, key), zone)


def bounds_at(period: Period, moment: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the period ``moment`` falls in."""
    return bounds(period, key_at(period, moment, zone), zone)


def previous_key(period: Period, key: str) -> str:
    """The key of the period just before ``key`` (``all`` has none: itself)."""
    if period == Period.all:
        return "all"
    return key_of_day(period, first_day(period, key) - timedelta(days=1))


def recent_keys(period: Period, key: str, count: int) -> list[str]:
    """``key`` and the ``count - 1`` periods before it, newest first (for a chooser)."""
    keys = [key]
    while len(keys) < count and period != Period.all:
        keys.append(previous_key(period, keys[-1]))
    return keys


def is_closed(period: Period, key: str, now: datetime, zone: tzinfo) -> bool:
    """True once the period has ended in the company's zone."""
    if period == Period.all:
        return False
    return bounds(period, key, zone)[1] <= now


# ---------------------------------------------------------------------------- comparisons


def elapsed(period: Period, key: str, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The part of the period that has happened by ``now``: ``[start, min(end, now))``.

    A period that has not started yet is empty (``[start, start)``).
    """
    start, end = bounds(period, key, zone)
    return start, max(start, min(end, now))


def same_elapsed_previous(
    period: Period, key: str, now: datetime, zone: tzinfo
) -> tuple[datetime, datetime]:
    """The same elapsed part of the previous period, to compare like with like.

    On 27 November at 15:00 the month so far is compared with 1 October to
    27 October 15:00, not with all of October. The offset is taken on the local
    clock and cut at the previous period's end (31 March compares with all of
    February). A closed period compares with the whole previous one.
    """
    start, until = elapsed(period, key, now, zone)
    before = previous_key(period, key)
    previous_start, previous_end = bounds(period, before, zone)
    if period == Period.all:
        return previous_start, until
    if until >= bounds(period, key, zone)[1]:
        return previous_start, previous_end
    offset = until.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(
        tzinfo=None
    )
    local_end = previous_start.astimezone(zone).replace(tzinfo=None) + offset
    return previous_start, min(previous_end, local_end.replace(tzinfo=zone))


def weeks_ending(end: datetime, zone: tzinfo, weeks: int) -> list[tuple[datetime, datetime]]:
    """The last ``weeks`` ISO weeks up to the one containing the instant before ``end``."""
    last = local_day(end - timedelta(microseconds=1), zone)
    monday = last - timedelta(days=last.weekday())
    starts = [monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    return [(day_start(s, zone), day_start(s + timedelta(weeks=1), zone)) for s in starts]
