"""The scan's window of local days, and local day and hour of a stored moment, in SQL.

The scan groups events by the company's local day and hour in the database, on
PostgreSQL and SQLite alike. SQLite has no time zones, so the local time is worked
out as arithmetic: the moment's Unix seconds plus the zone's UTC offset *at that
moment* (a CASE over the few offset changes inside the window, so daylight saving
is exact), minus the local midnight that starts the window. Whole-second integer
division then gives the day index (0 = the window's first day) and the hour.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.sql.elements import BindParameter

from points.calendar import day_start
from points.db import AwareDateTime

DAY_SECONDS = 86_400
HOUR_SECONDS = 3_600
# Offset changes fall on quarter hours in every zone in use.
_STEP = timedelta(minutes=15)


def _offset(moment: datetime, zone: tzinfo) -> int:
    delta = moment.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta else 0


@dataclass
class Window:
    """Local days ``first .. last`` (inclusive) in ``zone``, and SQL to bucket moments in them."""

    zone: tzinfo
    first: date
    last: date
    postgres: bool
    params: dict[str, Any] = field(default_factory=dict)
    binds: list[BindParameter[Any]] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return day_start(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def day(self, index: int) -> date:
        return self.first + timedelta(days=index)

    def index(self, day: date) -> int:
        return (day - self.first).days

    def moment(self, name: str, value: datetime) -> str:
        """A bound timestamp parameter (typed, so SQLite compares it as stored)."""
        if name not in self.params:
            self.binds.append(bindparam(name, type_=AwareDateTime()))
        self.params[name] = value
        return f":{name}"

    def _epoch(self, column: str) -> str:
        if self.postgres:
            return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def local_seconds(self, column: str) -> str:
        """Local wall-clock seconds of ``column`` since the window's first local midnight."""
        base = calendar.timegm(self.first.timetuple())
        changes: list[tuple[datetime, int]] = []
        moment = self.start.astimezone(UTC)
        current = _offset(moment, self.zone)
        end = self.end.astimezone(UTC)
        while moment < end:
            moment += _STEP
            offset = _offset(moment, self.zone)
            if offset != current:
                changes.append((moment, offset))
                current = offset
        first_offset = _offset(self.start, self.zone)
        if not changes:
            return f"({self._epoch(column)} + {first_offset - base})"
        branches = []
        previous = first_offset
        for number, (changed_at, offset) in enumerate(changes):
            name = self.moment(f"tz_change_{number}", changed_at)
            branches.append(f"WHEN {column} < {name} THEN {previous - base}")
            previous = offset
        return f"({self._epoch(column)} + CASE {' '.join(branches)} ELSE {previous - base} END)"

    def day_of(self, column: str) -> str:
        """The local day index (0 = the first day) of ``column``."""
        return f"({self.local_seconds(column)} / {DAY_SECONDS})"

    def hour_of(self, column: str) -> str:
        """The local hour (0–23) of ``column``."""
        return f"(({self.local_seconds(column)} % {DAY_SECONDS}) / {HOUR_SECONDS})"

    def bounds(self, column: str) -> str:
        """``column`` inside the window (index-friendly: the column compared as stored)."""
        return (
            f"{column} >= {self.moment('window_start', self.start)} "
            f"AND {column} < {self.moment('window_end', self.end)}"
        )
