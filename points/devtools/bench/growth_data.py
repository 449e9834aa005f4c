"""Databases for the "growth" bench: the demo company, on top of a year of a big one.

Everything bulk is generated inside PostgreSQL with set-based SQL (``generate_series``),
so ten million ledger entries take minutes on two cores and no Python loop sees a row.
The data agree with themselves by construction: balances, period scores and department
scores are derived from the very transactions written, so ``points reconcile`` is clean.

Transaction ids grow with time, as in a real append-only ledger, and activity weighs
towards the recent months.
"""

from __future__ import annotations

import time

import asyncpg  # type: ignore[import-untyped]

from points.ledger.reconcile_pg import participants_sql

ZONE_NAME = "Asia/Shanghai"
# Departments of the bulk company: divisions under the demo root, teams under them.
DIVISIONS, TEAMS = 20, 400
FIRST_DIVISION, FIRST_TEAM = 10_000, 20_000
# Rule ids of the default rules, so history lines look like the real ones.
RULES = ("approval-on-time", "doc-shared", "checkin-on-time", "meeting-host", "customer-added")

# Period keys cut in the company zone exactly as points.calendar.keys_at cuts them.
PERIOD_FORMATS = {
    "day": "YYYY-MM-DD",
    "week": 'IYYY-"W"IW',
    "month": "YYYY-MM",
    "quarter": 'YYYY-"Q"Q',
    "year": "YYYY",
}


async def add_company(
    conn: asyncpg.Connection, employees: int, transactions: int, days: int = 365
) -> dict[str, float]:
    """Add ``employees`` people with ``transactions`` awards (two entries each) over
    the last ``days`` days to a migrated database holding the demo company; seconds
    per step."""
    timings: dict[str, float] = {}

    async def step(name: str, sql: str, *args: object) -> None:
        started = time.perf_counter()
        await conn.execute(sql, *args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

    await conn.execute("SELECT setseed(0.19)")
    first_employee = int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM employee")) + 1
    first_txn = int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM ledger_transaction")) + 1
    first_entry = int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM ledger_entry")) + 1
    issuance = await conn.fetchval(
        "SELECT id FROM account WHERE kind = 'issuance' AND employee_id IS NULL"
    ) or await conn.fetchval(
        "INSERT INTO account (employee_id, kind, balance) VALUES (NULL, 'issuance', 0) RETURNING id"
    )
    await step(
        "departments",
        """
        INSERT INTO department (id, name, parent_id, path, sort_order)
        SELECT $1 + d, '事业部' || d, 1, '/1/' || ($1 + d) || '/', 100 + d
        FROM generate_series(0, $3 - 1) d;
        INSERT INTO department (id, name, parent_id, path, sort_order)
        SELECT $2 + t, '小组' || t, $1 + t % $3, '/1/' || ($1 + t % $3) || '/' || ($2 + t) || '/', t
        FROM generate_series(0, $4 - 1) t
        """.replace("$1", str(FIRST_DIVISION))
        .replace("$2", str(FIRST_TEAM))
        .replace("$3", str(DIVISIONS))
        .replace("$4", str(TEAMS)),
    )
    # Two in a hundred have left, three in a thousand are bots or admins (excluded),
    # three in a hundred opted out of public boards.
    await step(
        "employees",
        """
        INSERT INTO employee (id, userid, name, department_id, title, status, excluded,
                              board_opt_out, created_at)
        SELECT $1 + i, 'g' || i, '员工' || i, $3 + (i * 7919) % $4, '',
               CASE WHEN r < 0.02 THEN 'left' ELSE 'active' END, r > 0.997,
               r >= 0.02 AND r < 0.05, now() - interval '400 days'
        FROM (SELECT i, random() AS r FROM generate_series(0, $2 - 1) i) s
        """,
        first_employee,
        employees,
        FIRST_TEAM,
        TEAMS,
    )
    await step(
        "accounts",
        """
        INSERT INTO account (employee_id, kind, balance)
        SELECT id, 'available', 0 FROM employee WHERE id >= $1
        """,
        first_employee,
    )
    # The ledger in slices of a million transactions: one statement each, ids (and
    # so heap order) following time.
    slice_size = 1_000_000
    for start in range(0, transactions, slice_size):
        stop = min(transactions, start + slice_size)
        await step(
            "ledger_transaction",
            f"""
            INSERT INTO ledger_transaction (id, key, kind, employee_id, department_id, points,
                effective_at, created_at, rule_id, rule_version, author, reason, reason_en)
            SELECT $1 + n, 'award:bulk:' || n, 'award', e.id, e.department_id, g.points,
                   g.at, g.at, g.rule, 1, 'system', '', ''
            FROM (
                SELECT n,
                       $2 + floor(random() * $3)::int AS employee,
                       (ARRAY[1, 1, 2, 2, 3, 3, 5, 5, 10, 20])[1 + floor(random() * 10)::int]
                           AS points,
                       (ARRAY{list(RULES)!r})[1 + floor(random() * {len(RULES)})::int] AS rule,
                       now() - make_interval(secs => $4 * 86400.0
                           * power(1 - (n + random()) / $5, 1.6)) AS at
                FROM generate_series($6::bigint, $7::bigint - 1) n
            ) g JOIN employee e ON e.id = g.employee
            """,
            first_txn,
            first_employee,
            employees,
            days,
            float(transactions),
            start,
            stop,
        )
    await step(
        "ledger_entry",
        """
        INSERT INTO ledger_entry (id, transaction_id, account_id, amount)
        SELECT $1 + 2 * (t.id - $2) + leg.n, t.id,
               CASE leg.n WHEN 0 THEN $3 ELSE a.id END,
               CASE leg.n WHEN 0 THEN -t.points ELSE t.points END
        FROM ledger_transaction t
        JOIN account a ON a.employee_id = t.employee_id AND a.kind = 'available'
        CROSS JOIN (VALUES (0), (1)) AS leg (n)
        WHERE t.id >= $2
        """,
        first_entry,
        first_txn,
        issuance,
    )
    await step(
        "balances",
        """
        UPDATE account a SET balance = s.total
        FROM (SELECT account_id, SUM(amount) AS total FROM ledger_entry GROUP BY account_id) s
        WHERE s.account_id = a.id AND a.balance <> s.total
        """,
    )
    started = time.perf_counter()
    await derive_scores(conn)
    timings["scores"] = time.perf_counter() - started
    for table in ("employee", "account", "ledger_transaction", "ledger_entry"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    started = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    timings["vacuum_analyze"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in timings.items()}


async def derive_scores(conn: asyncpg.Connection) -> None:
    """Person and department scores from the transactions, in SQL.

    The transactions are cut by local day once (a scratch table); every period is
    rolled up from those days with keys formatted once per distinct day, so the
    ledger is read once instead of once per period.
    """
    keys = ", ".join(
        f"to_char(day, '{fmt}') AS key_{period}" for period, fmt in PERIOD_FORMATS.items()
    )
    periods = ", ".join(f"('{period}', key_{period})" for period in PERIOD_FORMATS)
    await conn.execute(
        f"""
        SET work_mem = '256MB';
        DELETE FROM period_score;
        DELETE FROM department_score;
        CREATE TEMPORARY TABLE growth_days AS
            SELECT employee_id, department_id,
                   (effective_at AT TIME ZONE '{ZONE_NAME}')::date AS day,
                   SUM(points)::bigint AS points
            FROM ledger_transaction
            WHERE kind IN ('award', 'reversal', 'adjustment', 'backapply') AND points <> 0
            GROUP BY 1, 2, 3;
        CREATE TEMPORARY TABLE growth_calendar AS
            SELECT day, {keys} FROM (SELECT DISTINCT day FROM growth_days) AS days;
        INSERT INTO period_score (employee_id, period, period_key, points)
            SELECT d.employee_id, k.period, k.period_key, SUM(d.points)
            FROM growth_days d JOIN growth_calendar c ON c.day = d.day
            CROSS JOIN LATERAL (VALUES {periods}, ('all', 'all')) AS k (period, period_key)
            GROUP BY 1, 2, 3;
        INSERT INTO department_score (department_id, period, period_key, points)
            SELECT d.department_id, k.period, k.period_key, SUM(d.points)
            FROM growth_days d JOIN growth_calendar c ON c.day = d.day
            CROSS JOIN LATERAL (VALUES {periods}, ('all', 'all')) AS k (period, period_key)
            WHERE d.department_id IS NOT NULL
            GROUP BY 1, 2, 3;
        UPDATE department_score s SET participants = c.participants
        FROM ({participants_sql(chunked=False).replace(":zone", f"'{ZONE_NAME}'")}) AS c
        WHERE s.department_id = c.department_id AND s.period = c.period
          AND s.period_key = c.period_key;
        DROP TABLE growth_days;
        DROP TABLE growth_calendar;
        """
    )
