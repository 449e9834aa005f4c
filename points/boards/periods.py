"""Period keys as windows of time: what ``2026-W48`` or ``2026-Q4`` covers, and its neighbours.

Keys are the ones :func:`points.ledger.service.period_keys` writes (cut in the
company's zone): ``2026-11-24``, ``2026-W48``, ``2026-11``, ``2026-Q4``, ``2026``, ``all``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from points.errors import InvalidInput
from points.i18n import _
from points.ledger.models import Period
from points.ledger.service import period_keys

# Periods a board can show (a day is too short to be worth a board).
BOARD_PERIODS = (Period.week, Period.month, Period.quarter, Period.year, Period.all)
# Periods whose board is frozen (published) when they close.
FROZEN_PERIODS = (Period.week, Period.month)

_PATTERNS = {
    Period.day: re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    Period.week: re.compile(r"^(\d{4})-W(\d{2})$"),
    Period.month: re.compile(r"^(\d{4})-(\d{2})$"),
    Period.quarter: re.compile(r"^(\d{4})-Q([1-4])$"),
    Period.year: re.compile(r"^(\d{4})$"),
}


def parse_period(value: str) -> Period:
    """A period name from a URL; a clear 422 for anything else."""
    try:
        return Period(value)
    except ValueError:
        names = ", ".join(p.value for p in Period)
        raise InvalidInput(_("Unknown period; use one of: {names}").format(names=names)) from None


def current_key(period: Period, now: datetime, zone: tzinfo) -> str:
    """The key of the period ``now`` falls in, in the company's zone."""
    return dict(period_keys(now, zone))[period]


def first_day(period: Period, key: str) -> date:
    """The first local day of the period named by ``key`` (raises InvalidInput if malformed)."""
    if period == Period.all:
        return date(2000, 1, 1)
    match = _PATTERNS[period].match(key)
    if match is None:
        raise InvalidInput(_("{key} is not a {period} key").format(key=key, period=period.value))
    parts = [int(p) for p in match.groups()]
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
        raise InvalidInput(
            _("{key} is not a {period} key").format(key=key, period=period.value)
        ) from None


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
    return date(9999, 1, 1)


def window(period: Period, key: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the period as aware datetimes (local midnights)."""
    return (
        datetime.combine(first_day(period, key), time.min, tzinfo=zone),
        datetime.combine(next_first_day(period, key), time.min, tzinfo=zone),
    )


def key_of_day(period: Period, day: date) -> str:
    moment = datetime.combine(day, time(12), tzinfo=None)
    from rules.periods import period_key

    if period == Period.year:
        return f"{day.year:04d}"
    if period == Period.all:
        return "all"
    return period_key(period.value, moment)  # type: ignore[arg-type]


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
    return window(period, key, zone)[1] <= now
