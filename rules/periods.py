"""Local time, period keys and durations.

Caps, streaks and date windows are all judged on the *local* calendar of the
company (``Asia/Shanghai`` unless settings say otherwise): a check-in at 23:30
Beijing time belongs to that Beijing day even though it is 15:30 UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

Period = Literal["day", "week", "month", "quarter"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "quarter")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def resolve_timezone(tz: tzinfo | str | None) -> tzinfo:
    """Return a tzinfo for ``tz`` (a zone name, a tzinfo, or None for the default)."""
    if tz is None:
        return _zone(DEFAULT_TIMEZONE)
    if isinstance(tz, str):
        return _zone(tz)
    return tz


def period_key(period: Period, local: datetime | date) -> str:
    """Key of the period containing ``local`` (already converted to local time).

    Keys are distinct across kinds so one mapping can hold them all:
    ``2026-11-24`` (day), ``2026-W48`` (ISO week), ``2026-11`` (month), ``2026-Q4``.
    """
    return _period_key_of_day(period, local.year, local.month, local.day)


# Scoring asks for the same few hundred days' keys millions of times.
@lru_cache(maxsize=8192)
def _period_key_of_day(period: Period, year: int, month: int, day: int) -> str:
    local = date(year, month, day)
    if period == "day":
        return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    if period == "week":
        iso = local.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    if period == "month":
        return f"{local.year:04d}-{local.month:02d}"
    return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"


def period_key_at(period: Period, moment: datetime, tz: tzinfo | str | None = None) -> str:
    """Key of the period containing the aware datetime ``moment`` in zone ``tz``."""
    return period_key(period, moment.astimezone(resolve_timezone(tz)))


def day_ordinal(local: datetime | date) -> int:
    """Consecutive local days have consecutive ordinals (used by day streaks)."""
    return date(local.year, local.month, local.day).toordinal()


def week_ordinal(local: datetime | date) -> int:
    """Consecutive ISO weeks have consecutive ordinals (used by week streaks)."""
    monday = date(local.year, local.month, local.day).toordinal() - local.weekday()
    # Ordinal 1 (0001-01-01) is a Monday, so Mondays are ≡ 1 (mod 7).
    return (monday - 1) // 7


def parse_duration(text: str) -> timedelta:
    """Parse ``30s``, ``10m``, ``2h``, ``1d`` or ``1w``; raise ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"`{text}` is not a duration; write e.g. 10m, 2h or 1d")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"`{text}` must be longer than zero")
    return timedelta(seconds=amount * _DURATION_UNITS[unit])
