"""The four patterns, each found by set-based SQL over a bounded window of local days.

Every query reads one window (the last :data:`WINDOW_DAYS` local days, plus for caps
the start of the cap period the window begins in) through the ``occurred_at`` index,
groups in the database and returns only candidates; Python then looks closer at those
few (a robust baseline, the evidence). The same SQL runs on PostgreSQL and SQLite.

- **cap_streak** — at one rule's cap on ``POINTS_INTEGRITY_CAP_DAYS`` active days
  running: days on which the person did that rule's activity and its cap period's
  points had reached the cap by the end of the day. Days without that activity do not
  break the run (weekends); a day with the activity below the cap does. Caps that one
  award reaches (a check-in a day) say nothing and are left out.
- **burst** — a day with at least ``POINTS_INTEGRITY_MIN_COUNT`` events of one type,
  far above the person's own usual day for that type: above the median plus
  :data:`BURST_SPREADS` robust spreads (1.4826 × MAD, at least √median and 1), the
  median and MAD taken over every day of the window (days without any count as 0),
  so up to half the window may be burst days and still stand out.
- **odd_hours** — in the last :data:`RECENT_DAYS` days, at least :data:`ODD_MIN`
  events at night (22:00–06:00) in hours the person never used in the
  :data:`WINDOW_DAYS` − :data:`RECENT_DAYS` days before, given an established
  pattern there (at least :data:`ODD_BASELINE` events). A night-shift worker's own
  nights are their pattern, not odd.
- **mutual_approvals** — two people who each decided at least :data:`PAIR_MIN` of
  the other's approvals and gave the other at least PAIR_SHARE_PERCENT % of all their
  decisions (``approval.decided``: the approver is the actor, the applicant an
  attribute, as the WeCom mapping stores them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import Period, first_day, key_of_day
from points.db import is_postgres
from points.integrity.models import Pattern
from points.integrity.window import Window
from points.org.models import Employee
from points.rulesets.service import compiled, ensure_active
from points.settings import Settings
from rules.engine import CompiledRule

WINDOW_DAYS = 28
RECENT_DAYS = 7
BURST_SPREADS = 6.0
ODD_MIN = 10
ODD_BASELINE = 20
NIGHT = frozenset({22, 23, 0, 1, 2, 3, 4, 5})
PAIR_MIN = 5
PAIR_SHARE_PERCENT = 80
# Candidates are looked at closer in chunks of this many people.
_CHUNK = 500
# A day's list in the evidence names at most this many days.
_MAX_DAYS = 28


@dataclass
class Found:
    """One pattern found for one person: what the scan stores as a flag."""

    employee_id: int
    pattern: Pattern
    subject: str
    evidence: dict[str, Any]
    severity: int
    since: date
    last_seen: date


def window_for(
    settings: Settings, today: date, postgres: bool, first: date | None = None
) -> Window:
    """The last WINDOW_DAYS local days up to ``today`` (or from ``first``)."""
    return Window(settings.zone, first or today - timedelta(days=WINDOW_DAYS - 1), today, postgres)


async def _rows(session: AsyncSession, window: Window, sql: str, **params: Any) -> list[Any]:
    statement = text(sql).bindparams(*window.binds)
    for name, value in params.items():
        if isinstance(value, list | tuple):
            statement = statement.bindparams(bindparam(name, expanding=True))
    connection = await session.connection()
    result = await connection.execute(statement, {**window.params, **params})
    return list(result.all())


# ------------------------------------------------------------------------- cap streaks


def _farmable(rule: CompiledRule) -> bool:
    """A capped rule whose cap takes more than one award to reach."""
    return bool(
        rule.cap_per is not None
        and rule.when
        and rule.points > 0
        and rule.cap_max >= 2 * rule.points
        and rule.kind == "points"
    )


async def cap_streaks(session: AsyncSession, settings: Settings, today: date) -> list[Found]:
    ruleset = compiled(await ensure_active(session))
    postgres = is_postgres(session)
    found: list[Found] = []
    window_first = today - timedelta(days=WINDOW_DAYS - 1)
    for rule in ruleset.rules:
        if not _farmable(rule):
            continue
        assert rule.cap_per is not None
        period = Period(rule.cap_per)
        lookback = first_day(period, key_of_day(period, window_first))
        window = window_for(settings, today, postgres, first=lookback)
        keys: dict[str, int] = {}
        periods = ", ".join(
            f"({d}, {keys.setdefault(key_of_day(period, window.day(d)), len(keys))})"
            for d in range(window.days)
        )
        day = window.day_of("e.occurred_at")
        runs = await _rows(
            session,
            window,
            f"""
            WITH periods(d, p) AS (VALUES {periods}),
            daily AS (
                SELECT e.employee_id AS emp, {day} AS d, COALESCE(SUM(t.points), 0) AS pts
                FROM activity_event e
                LEFT JOIN ledger_transaction t
                  ON t.event_id = e.id AND t.rule_id = :rule
                 AND t.kind IN ('award', 'reversal')
                WHERE {window.bounds("e.occurred_at")}
                  AND e.type IN :types AND e.employee_id IS NOT NULL
                GROUP BY 1, 2
            ),
            running AS (
                SELECT daily.emp, daily.d, SUM(daily.pts) OVER (
                    PARTITION BY daily.emp, periods.p ORDER BY daily.d
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS used
                FROM daily JOIN periods ON periods.d = daily.d
            ),
            marked AS (
                SELECT emp, d, CASE WHEN used >= :cap THEN 1 ELSE 0 END AS at_cap
                FROM running WHERE d >= :from_day
            ),
            islands AS (
                SELECT emp, d, at_cap,
                       ROW_NUMBER() OVER (PARTITION BY emp ORDER BY d)
                     - ROW_NUMBER() OVER (PARTITION BY emp, at_cap ORDER BY d) AS grp
                FROM marked
            )
            SELECT emp, MIN(d), MAX(d), COUNT(*) FROM islands
            WHERE at_cap = 1 GROUP BY emp, grp HAVING COUNT(*) >= :n
            """,
            rule=rule.id,
            types=list(rule.when),
            cap=rule.cap_max,
            from_day=window.index(window_first),
            n=settings.INTEGRITY_CAP_DAYS,
        )
        longest: dict[int, tuple[int, int, int]] = {}
        for emp, first, last, days in runs:
            best = longest.get(emp)
            if best is None or (days, last) > (best[2], best[1]):
                longest[emp] = (int(first), int(last), int(days))
        for emp, (first, last, days) in longest.items():
            found.append(
                Found(
                    emp,
                    Pattern.cap_streak,
                    rule.id,
                    {
                        "rule": rule.id,
                        "rule_title": rule.title,
                        "rule_title_en": rule.title_en or rule.title,
                        "cap": rule.cap_max,
                        "per": period.value,
                        "run_days": days,
                        "first_day": window.day(first).isoformat(),
                        "last_day": window.day(last).isoformat(),
                        "types": list(rule.when),
                    },
                    days,
                    window.day(first),
                    window.day(last),
                )
            )
    return found


# ------------------------------------------------------------------------- bursts


def lower_median(values: Sequence[float]) -> float:
    """The ⌈n/2⌉-th smallest value: robust while up to half the values are outliers."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def burst_threshold(counts: Sequence[int], minimum: int) -> tuple[float, float, int]:
    """(median, MAD, the smallest count that is a burst) of one person's daily counts."""
    median = lower_median(counts)
    mad = lower_median([abs(c - median) for c in counts])
    spread = max(1.4826 * mad, math.sqrt(median), 1.0)
    return median, mad, max(minimum, math.floor(median + BURST_SPREADS * spread) + 1)


async def bursts(session: AsyncSession, settings: Settings, today: date) -> list[Found]:
    window = window_for(settings, today, is_postgres(session))
    day = window.day_of("e.occurred_at")
    base = f"""
        SELECT e.employee_id, e.type, {day} AS d, COUNT(*) FROM activity_event e
        WHERE {window.bounds("e.occurred_at")} AND e.employee_id IS NOT NULL
    """
    candidates = await _rows(
        session,
        window,
        base + " GROUP BY 1, 2, 3 HAVING COUNT(*) >= :minimum",
        minimum=settings.INTEGRITY_MIN_COUNT,
    )
    pairs = {(emp, type_) for emp, type_, _d, _n in candidates}
    people = sorted({emp for emp, _t in pairs})
    series: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * window.days)
    for start in range(0, len(people), _CHUNK):
        chunk = people[start : start + _CHUNK]
        rows = await _rows(
            session, window, base + " AND e.employee_id IN :ids GROUP BY 1, 2, 3", ids=chunk
        )
        for emp, type_, d, count in rows:
            if (emp, type_) in pairs and 0 <= d < window.days:
                series[(emp, type_)][int(d)] = int(count)
    found = []
    for (emp, type_), counts in sorted(series.items()):
        median, mad, threshold = burst_threshold(counts, settings.INTEGRITY_MIN_COUNT)
        days = [(d, c) for d, c in enumerate(counts) if c >= threshold]
        if not days:
            continue
        peak = max(c for _d, c in days)
        found.append(
            Found(
                emp,
                Pattern.burst,
                type_,
                {
                    "type": type_,
                    "median": median,
                    "mad": mad,
                    "threshold": threshold,
                    "peak": peak,
                    "days": [
                        {"day": window.day(d).isoformat(), "count": c} for d, c in days[-_MAX_DAYS:]
                    ],
                    "window_days": window.days,
                },
                peak,
                window.day(days[0][0]),
                window.day(days[-1][0]),
            )
        )
    return found


# ------------------------------------------------------------------------- odd hours


async def odd_hours(session: AsyncSession, settings: Settings, today: date) -> list[Found]:
    window = window_for(settings, today, is_postgres(session))
    recent = window.days - RECENT_DAYS
    day = window.day_of("e.occurred_at")
    hour = window.hour_of("e.occurred_at")
    night = ", ".join(str(h) for h in sorted(NIGHT))
    candidates = await _rows(
        session,
        window,
        f"""
        WITH hourly AS (
            SELECT e.employee_id AS emp, {hour} AS h,
                   SUM(CASE WHEN {day} >= :recent THEN 1 ELSE 0 END) AS recent,
                   SUM(CASE WHEN {day} < :recent THEN 1 ELSE 0 END) AS base
            FROM activity_event e
            WHERE {window.bounds("e.occurred_at")} AND e.employee_id IS NOT NULL
            GROUP BY 1, 2
        ),
        settled AS (SELECT emp FROM hourly GROUP BY emp HAVING SUM(base) >= :baseline)
        SELECT hourly.emp FROM hourly JOIN settled ON settled.emp = hourly.emp
        WHERE hourly.base = 0 AND hourly.h IN ({night})
        GROUP BY hourly.emp HAVING SUM(hourly.recent) >= :minimum
        """,
        recent=recent,
        baseline=ODD_BASELINE,
        minimum=ODD_MIN,
    )
    found = []
    for (emp,) in candidates:
        rows = await _rows(
            session,
            window,
            f"""
            SELECT {day} AS d, {hour} AS h, COUNT(*) FROM activity_event e
            WHERE {window.bounds("e.occurred_at")} AND e.employee_id = :emp
            GROUP BY 1, 2
            """,
            emp=emp,
        )
        usual = sorted({int(h) for d, h, _n in rows if d < recent})
        odd = [(int(d), int(h), int(n)) for d, h, n in rows if d >= recent and h not in usual]
        odd = [(d, h, n) for d, h, n in odd if h in NIGHT]
        if not odd:
            continue
        by_day: dict[int, int] = defaultdict(int)
        for d, _h, n in odd:
            by_day[d] += n
        total = sum(by_day.values())
        found.append(
            Found(
                emp,
                Pattern.odd_hours,
                "",
                {
                    "events": total,
                    "hours": sorted({h for _d, h, _n in odd}),
                    "usual_hours": usual,
                    "baseline_events": sum(n for d, _h, n in rows if d < recent),
                    "baseline_days": recent,
                    "days": [
                        {"day": window.day(d).isoformat(), "count": n}
                        for d, n in sorted(by_day.items())
                    ],
                },
                total,
                window.day(min(by_day)),
                window.day(max(by_day)),
            )
        )
    return found


# ------------------------------------------------------------------------- mutual approvals


async def mutual_approvals(session: AsyncSession, settings: Settings, today: date) -> list[Found]:
    postgres = is_postgres(session)
    window = window_for(settings, today, postgres)
    applicant = (
        "(e.attributes ->> 'applicant')"
        if postgres
        else "json_extract(e.attributes, '$.applicant')"
    )
    day = window.day_of("e.occurred_at")
    pairs = await _rows(
        session,
        window,
        f"""
        WITH edges AS (
            SELECT e.actor AS approver, {applicant} AS applicant, COUNT(*) AS n,
                   MIN({day}) AS first_d, MAX({day}) AS last_d
            FROM activity_event e
            WHERE {window.bounds("e.occurred_at")} AND e.type = 'approval.decided'
            GROUP BY 1, 2
        ),
        totals AS (SELECT approver, SUM(n) AS total FROM edges GROUP BY approver)
        SELECT a.approver, a.applicant, a.n, b.n, ta.total, tb.total,
               a.first_d, b.first_d, a.last_d, b.last_d
        FROM edges a
        JOIN edges b ON b.approver = a.applicant AND b.applicant = a.approver
        JOIN totals ta ON ta.approver = a.approver
        JOIN totals tb ON tb.approver = b.approver
        WHERE a.approver < a.applicant AND a.n >= :minimum AND b.n >= :minimum
          AND a.n * 100 >= ta.total * {PAIR_SHARE_PERCENT}
          AND b.n * 100 >= tb.total * {PAIR_SHARE_PERCENT}
        """,
        minimum=PAIR_MIN,
    )
    userids = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    ids: dict[str, int] = {}
    if userids:
        rows = await session.exec(
            select(Employee.userid, Employee.id).where(col(Employee.userid).in_(userids))
        )
        ids = {u: i for u, i in rows.all() if i is not None}
    found = []
    for one, other, given, received, one_total, other_total, f1, f2, l1, l2 in pairs:
        if one not in ids or other not in ids:
            continue
        first, last = window.day(min(f1, f2)), window.day(max(l1, l2))
        found.append(
            Found(
                ids[one],
                Pattern.mutual_approvals,
                other,
                {
                    "partner": other,
                    "given": int(given),
                    "received": int(received),
                    "given_total": int(one_total),
                    "received_total": int(other_total),
                    "first_day": first.isoformat(),
                    "last_day": last.isoformat(),
                },
                min(int(given), int(received)),
                first,
                last,
            )
        )
    return found


DETECTORS = (cap_streaks, bursts, odd_hours, mutual_approvals)
