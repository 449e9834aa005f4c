"""The working-day calendar HR maintains, and the two import formats it accepts.

A day not listed follows the week: Monday–Friday work, Saturday and Sunday off.
HR lists the exceptions — statutory holidays on weekdays (``off``) and make-up
working days on weekends (``work``, 调休上班) — on ``/rules/calendar``, one by one
or by importing:

- **CSV**, one day a line: ``date,kind,name`` (a header line is optional), kind
  ``off``/``休``/``假`` or ``work``/``班``/``补班``::

      2026-10-01,休,国庆节
      2026-10-10,班,国庆节补班

- **JSON** in the shape the common Chinese holiday calendars use
  (``holiday-cn``): ``{"year": 2026, "days": [{"name": "国庆节", "date":
  "2026-10-01", "isOffDay": true}, …]}`` — or just the list of days.

Importing adds the listed days and replaces any already listed on the same dates.
``streak: {workdays: N}`` rules count working days in this calendar
(:func:`with_workdays` hands it to the compiled rules; the engine does no I/O).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import insert_for
from points.errors import InvalidInput
from points.i18n import _
from points.workdays.models import CalendarDay
from rules import CompiledRuleset
from rules.workdays import WorkCalendar

MAX_IMPORT_BYTES = 200_000
MAX_NAME = 40
_OFF = {"off", "holiday", "rest", "休", "假", "放假", "休息"}
_WORK = {"work", "workday", "班", "上班", "补班", "调休上班"}


@dataclass(frozen=True)
class Day:
    day: date
    kind: str  # "off" or "work"
    name: str = ""


def _kind(raw: str) -> str | None:
    value = raw.strip().lower()
    if value in _OFF:
        return "off"
    if value in _WORK:
        return "work"
    return None


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _from_csv(text: str) -> tuple[list[Day], list[str]]:
    days: list[Day] = []
    problems: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() in ("date", "日期"):
            continue  # the header
        if len(cells) < 2:
            problems.append(
                _("Line {line}: write date,kind,name, e.g. 2026-10-01,休,国庆节.").format(
                    line=number
                )
            )
            continue
        day, kind = _date(cells[0]), _kind(cells[1])
        if day is None:
            problems.append(
                _("Line {line}: {value} is not a date like 2026-10-01.").format(
                    line=number, value=cells[0]
                )
            )
            continue
        if kind is None:
            problems.append(
                _("Line {line}: the kind is 休 (day off) or 班 (make-up working day).").format(
                    line=number
                )
            )
            continue
        days.append(Day(day, kind, (cells[2] if len(cells) > 2 else "")[:MAX_NAME]))
    return days, problems


def _from_json(text: str) -> tuple[list[Day], list[str]]:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return [], [_("This is not valid JSON.")]
    items = data.get("days") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return [], [_('Expected {"days": [{"date": …, "isOffDay": …, "name": …}, …]}.')]
    days: list[Day] = []
    problems: list[str] = []
    for number, item in enumerate(items, start=1):
        day = _date(str(item.get("date", ""))) if isinstance(item, dict) else None
        off = item.get("isOffDay") if isinstance(item, dict) else None
        if day is None or not isinstance(off, bool):
            problems.append(
                _("Day {n}: needs a date like 2026-10-01 and isOffDay true or false.").format(
                    n=number
                )
            )
            continue
        assert isinstance(item, dict)
        days.append(Day(day, "off" if off else "work", str(item.get("name") or "")[:MAX_NAME]))
    return days, problems


def parse_calendar(text: str) -> list[Day]:
    """The days of an import (CSV or JSON); raises InvalidInput naming every bad line."""
    if len(text.encode("utf-8")) > MAX_IMPORT_BYTES:
        raise InvalidInput(_("The file is too large for a calendar."))
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise InvalidInput(_("Paste or choose a calendar to import."))
    parse = _from_json if stripped[0] in "[{" else _from_csv
    days, problems = parse(stripped)
    if problems:
        raise InvalidInput(" ".join(problems[:10]))
    if not days:
        raise InvalidInput(_("The calendar lists no days."))
    return days


async def calendar_days(session: AsyncSession, year: int | None = None) -> list[Day]:
    """The listed days (of one year), in date order."""
    query = select(CalendarDay).order_by(col(CalendarDay.day))
    if year is not None:
        query = query.where(
            col(CalendarDay.day) >= date(year, 1, 1), col(CalendarDay.day) <= date(year, 12, 31)
        )
    return [Day(r.day, r.kind, r.name) for r in (await session.exec(query)).all()]


async def years(session: AsyncSession) -> list[int]:
    """The years the calendar lists any day of."""
    return sorted({d.day.year for d in await calendar_days(session)})


async def work_calendar(session: AsyncSession) -> WorkCalendar:
    """The calendar as the rule engine takes it (home asks on every visit: plain columns,
    and the same days give the same calendar without building it again)."""
    rows = await session.exec(
        select(col(CalendarDay.day), col(CalendarDay.kind)).order_by(col(CalendarDay.day))
    )
    return _calendar(tuple((day, kind) for day, kind in rows.all()))


@lru_cache(maxsize=8)
def _calendar(days: tuple[tuple[date, str], ...]) -> WorkCalendar:
    return WorkCalendar.of(
        (day for day, kind in days if kind == "off"), (day for day, kind in days if kind == "work")
    )


async def save_days(session: AsyncSession, days: Sequence[Day], *, actor: str, ip: str = "") -> int:
    """Add these days (replacing the same dates); audited. Returns how many."""
    if not days:
        return 0
    latest = {d.day: d for d in days}  # a date listed twice: the last line wins
    values = [{"day": d.day, "kind": d.kind, "name": d.name} for d in latest.values()]
    stmt = insert_for(session, CalendarDay).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day"], set_={"kind": stmt.excluded.kind, "name": stmt.excluded.name}
    )
    await session.exec(stmt)
    await record(
        session,
        actor=actor,
        action="calendar.import",
        details={"days": len(latest), "years": sorted({d.year for d in latest})},
        ip=ip,
    )
    return len(latest)


async def remove_days(
    session: AsyncSession, days: Iterable[date], *, actor: str, ip: str = ""
) -> None:
    """Take days off the list (they follow the week again); audited."""
    wanted = sorted(set(days))
    if not wanted:
        return
    await session.exec(delete(CalendarDay).where(col(CalendarDay.day).in_(wanted)))
    await record(
        session,
        actor=actor,
        action="calendar.remove",
        details={"days": [d.isoformat() for d in wanted]},
        ip=ip,
    )


async def with_workdays(session: AsyncSession, ruleset: CompiledRuleset) -> CompiledRuleset:
    """``ruleset`` counting working days in the company calendar (itself if it has no
    ``workdays`` streak)."""
    if not ruleset.uses_workdays:
        return ruleset
    return ruleset.with_calendar(await work_calendar(session))
