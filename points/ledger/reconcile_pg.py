"""Reconcile's score comparison done inside PostgreSQL: only the differences come back.

The expected scores are cut from the transactions by local day in the company zone
(``AT TIME ZONE``), then rolled up with the same key formats posting writes
(``2026-11-24``, ``2026-W48``, ``2026-11``, ``2026-Q4``, ``2026``, ``all``), and
compared with the stored rows by a FULL JOIN. Ten million entries are aggregated
at C speed and nothing the size of the ledger crosses the wire.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import EPOCH
from points.ledger.models import EARNING_KINDS

_EARNING = ", ".join(f"'{kind.value}'" for kind in sorted(EARNING_KINDS))
_FORMATS = (
    ("day", "YYYY-MM-DD"),
    ("week", 'IYYY-"W"IW'),
    ("month", "YYYY-MM"),
    ("quarter", 'YYYY-"Q"Q'),
    ("year", "YYYY"),
)


def _differences_sql(owner: str, table: str, chunked: bool) -> str:
    within = f"AND {owner} BETWEEN :first AND :last" if chunked else ""
    # Keys are formatted once per distinct day (a few hundred), not once per row.
    keys = ", ".join(f"to_char(day, '{fmt}') AS key_{period}" for period, fmt in _FORMATS)
    periods = ", ".join(f"('{period}', key_{period})" for period, _fmt in _FORMATS)
    return f"""
        WITH days AS (
            SELECT {owner} AS owner, (effective_at AT TIME ZONE :zone)::date AS day,
                   SUM(points)::bigint AS points
            FROM ledger_transaction
            WHERE kind IN ({_EARNING}) AND points <> 0 AND {owner} IS NOT NULL {within}
            GROUP BY 1, 2
        ), calendar AS (
            SELECT day, {keys} FROM (SELECT DISTINCT day FROM days) AS distinct_days
        ), want AS (
            SELECT d.owner, k.period, k.period_key, SUM(d.points)::bigint AS points
            FROM days d JOIN calendar c ON c.day = d.day
            CROSS JOIN LATERAL (VALUES {periods}, ('all', 'all')) AS k (period, period_key)
            GROUP BY 1, 2, 3
        ), have AS (
            SELECT {owner} AS owner, period, period_key, points FROM {table}
            WHERE true {within}
        )
        SELECT COALESCE(h.owner, w.owner), COALESCE(h.period, w.period),
               COALESCE(h.period_key, w.period_key), COALESCE(h.points, 0),
               COALESCE(w.points, 0)
        FROM have h FULL JOIN want w
          ON h.owner = w.owner AND h.period = w.period AND h.period_key = w.period_key
        WHERE COALESCE(h.points, 0) <> COALESCE(w.points, 0)
        ORDER BY 1, 2, 3
        LIMIT :limit
    """


# The first day of the period a day falls in (ISO weeks start on Monday, as date_trunc's).
_FIRST_DAYS = (
    ("day", "day"),
    ("week", "date_trunc('week', day)::date"),
    ("month", "date_trunc('month', day)::date"),
    ("quarter", "date_trunc('quarter', day)::date"),
    ("year", "date_trunc('year', day)::date"),
)


def participants_sql(chunked: bool) -> str:
    """(department_id, period, period_key, participants): per department and period,
    the people on its roll whose transactions carrying it add up to more than zero.

    On the roll of a period: not excluded, and still here or left on or after its
    first day; ``all`` has none (its epoch is before any leaving date), so only
    leavers without a leaving date are off it besides the excluded.
    """
    within = "AND employee_id BETWEEN :first AND :last" if chunked else ""
    keys = ", ".join(f"to_char(day, '{fmt}') AS key_{period}" for period, fmt in _FORMATS)
    firsts = ", ".join(f"{expr} AS first_{period}" for period, expr in _FIRST_DAYS)
    periods = ", ".join(f"('{period}', key_{period}, first_{period})" for period, _f in _FORMATS)
    return f"""
        WITH days AS (
            SELECT employee_id, department_id, (effective_at AT TIME ZONE :zone)::date AS day,
                   SUM(points)::bigint AS points
            FROM ledger_transaction
            WHERE kind IN ({_EARNING}) AND points <> 0 AND department_id IS NOT NULL {within}
            GROUP BY 1, 2, 3
        ), calendar AS (
            SELECT day, {keys}, {firsts} FROM (SELECT DISTINCT day FROM days) AS distinct_days
        ), earned AS (
            SELECT d.employee_id, d.department_id, k.period, k.period_key, k.first_day,
                   SUM(d.points)::bigint AS points
            FROM days d JOIN calendar c ON c.day = d.day
            CROSS JOIN LATERAL (VALUES {periods}, ('all', 'all', DATE '{EPOCH.isoformat()}'))
                AS k (period, period_key, first_day)
            GROUP BY 1, 2, 3, 4, 5
        )
        SELECT e.department_id, e.period, e.period_key, count(*)::int AS participants
        FROM earned e JOIN employee p ON p.id = e.employee_id
        WHERE e.points > 0 AND NOT p.excluded
          AND (p.status = 'active' OR p.left_on >= e.first_day)
        GROUP BY 1, 2, 3
    """


_PARTICIPANTS = text(participants_sql(chunked=True))


async def participants(
    session: AsyncSession, zone: str, first: int, last: int
) -> Iterable[tuple[int, str, str, int]]:
    """(department id, period, key, people of ``first``..``last`` who earned there)."""
    connection = await session.connection()
    rows = await connection.execute(_PARTICIPANTS, {"zone": zone, "first": first, "last": last})
    return [(int(d), str(p), str(k), int(n)) for d, p, k, n in rows.all()]


_PEOPLE = text(_differences_sql("employee_id", "period_score", chunked=True))
_DEPARTMENTS = text(_differences_sql("department_id", "department_score", chunked=False))


async def people_differences(
    session: AsyncSession, zone: str, first: int, last: int, limit: int
) -> Iterable[tuple[int, str, str, int, int]]:
    """(employee id, period, key, stored, expected) for people ``first``..``last``."""
    connection = await session.connection()
    rows = await connection.execute(
        _PEOPLE, {"zone": zone, "first": first, "last": last, "limit": limit}
    )
    return [(int(o), str(p), str(k), int(h), int(w)) for o, p, k, h, w in rows.all()]


async def department_differences(
    session: AsyncSession, zone: str, limit: int
) -> Iterable[tuple[int, str, str, int, int]]:
    """(department id, period, key, stored, expected) over every department."""
    connection = await session.connection()
    rows = await connection.execute(_DEPARTMENTS, {"zone": zone, "limit": limit})
    return [(int(o), str(p), str(k), int(h), int(w)) for o, p, k, h, w in rows.all()]
