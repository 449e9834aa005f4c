"""Working days: the company calendar a ``streak: {workdays: N}`` rule counts in.

A day is a working day when it is Monday–Friday and not a holiday, or when it is a
weekend day listed as a make-up working day (调休). The calendar is plain data
handed in by the caller (the database-backed scorer loads what HR maintains);
nothing here reads a file or a table.

Each working day gets an ordinal — working days since 0001-01-01 — so "the next
working day" is simply ordinal + 1 and a streak rule can treat it like a day or a
week: a weekend or a holiday between two working days breaks nothing, a working
day without the event does.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date


def _weekdays_before(day: int) -> int:
    """Monday–Friday days before the proleptic ordinal ``day`` (0001-01-01 is a Monday)."""
    weeks, rest = divmod(day - 1, 7)
    return weeks * 5 + min(rest, 5)


@dataclass(frozen=True, eq=True)
class WorkCalendar:
    """Holidays on weekdays (``off``) and make-up working days on weekends (``work``)."""

    off: frozenset[date] = frozenset()
    work: frozenset[date] = frozenset()
    _off: tuple[int, ...] = field(default=(), compare=False, repr=False)
    _work: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Only what changes the Monday–Friday pattern matters: a "holiday" on a
        # Saturday is already a day off, a "make-up day" on a Tuesday already works.
        off = frozenset(d for d in self.off if d.isoweekday() <= 5 and d not in self.work)
        work = frozenset(d for d in self.work if d.isoweekday() > 5)
        object.__setattr__(self, "off", off)
        object.__setattr__(self, "work", work)
        object.__setattr__(self, "_off", tuple(sorted(d.toordinal() for d in off)))
        object.__setattr__(self, "_work", tuple(sorted(d.toordinal() for d in work)))

    @classmethod
    def of(cls, off: Iterable[date] = (), work: Iterable[date] = ()) -> WorkCalendar:
        return cls(frozenset(off), frozenset(work))

    def is_workday(self, day: date) -> bool:
        if day.isoweekday() > 5:
            return day in self.work
        return day not in self.off

    def ordinal(self, day: date) -> int | None:
        """The working day's number (consecutive working days differ by one); None on a day off."""
        if not self.is_workday(day):
            return None
        n = day.toordinal()
        return _weekdays_before(n) - bisect_left(self._off, n) + bisect_left(self._work, n)

    def years(self) -> frozenset[int]:
        """The years the calendar says anything about (for "is next year's calendar in?")."""
        return frozenset(d.year for d in self.off | self.work)


# Monday–Friday, no holidays: what a rule set without a company calendar counts in.
WEEKDAYS = WorkCalendar()
