"""department participants count only people on the roll of the period

``department_score.participants`` now counts the people on the roll of each period
(not excluded; still here, or left on or after its first day) whose earning
transactions there add up to more than zero, so the department boards read it as it
is. This recounts every row with that rule: per person, department and local day in
``POINTS_TIMEZONE``, rolled up to every period, counted where above zero and on the
roll; rows nobody on the roll earned in go back to zero.

Revision ID: 0018_roll_participants
Revises: 0017_participants
Create Date: 2026-11-29 10:00:00
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0018_roll_participants"
down_revision: str | None = "0017_participants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from points.settings import Settings

    bind = op.get_bind()
    zone = Settings().zone
    if bind.dialect.name == "postgresql":
        from points.ledger.reconcile_pg import participants_sql

        bind.execute(
            sa.text(
                f"CREATE TEMPORARY TABLE roll_participants ON COMMIT DROP AS"
                f" {participants_sql(chunked=False)}"
            ),
            {"zone": getattr(zone, "key", "Asia/Shanghai")},
        )
        bind.execute(
            sa.text(
                """
                UPDATE department_score s SET participants = c.participants
                FROM roll_participants c
                WHERE s.department_id = c.department_id AND s.period = c.period
                  AND s.period_key = c.period_key AND s.participants <> c.participants
                """
            )
        )
        bind.execute(
            sa.text(
                """
                UPDATE department_score s SET participants = 0
                WHERE s.participants <> 0 AND NOT EXISTS (
                    SELECT 1 FROM roll_participants c
                    WHERE c.department_id = s.department_id AND c.period = s.period
                      AND c.period_key = s.period_key)
                """
            )
        )
        bind.execute(sa.text("DROP TABLE roll_participants"))
        return
    from points.calendar import keys_of_day
    from points.ledger.participation import on_roll_of
    from points.org.models import EmployeeStatus, Roll

    # SQLite (the embedded default, small): per person, department and local day.
    rolls = {
        int(employee_id): Roll(bool(excluded), EmployeeStatus(status), _day(left_on))
        for employee_id, excluded, status, left_on in bind.execute(
            sa.text("SELECT id, excluded, status, left_on FROM employee")
        )
    }
    days: dict[tuple[int, int, date], int] = defaultdict(int)
    rows = bind.execute(
        sa.text(
            "SELECT employee_id, department_id, effective_at, points FROM ledger_transaction"
            " WHERE kind IN ('award', 'reversal', 'adjustment', 'backapply')"
            " AND points <> 0 AND department_id IS NOT NULL"
        )
    )
    for employee_id, department_id, effective_at, points in rows:
        moment = effective_at if isinstance(effective_at, datetime) else _parse(effective_at)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        days[(employee_id, department_id, moment.astimezone(zone).date())] += points
    earned: dict[tuple[int, int, str, str], int] = defaultdict(int)
    for (employee_id, department_id, day), points in days.items():
        for period, key in keys_of_day(day):
            earned[(employee_id, department_id, period.value, key)] += points
    counts: dict[tuple[int, str, str], int] = defaultdict(int)
    for (employee_id, department_id, period, key), points in earned.items():
        roll = rolls.get(employee_id)
        if points > 0 and roll is not None and on_roll_of(roll, period, key):
            counts[(department_id, period, key)] += 1
    bind.execute(sa.text("UPDATE department_score SET participants = 0"))
    update = sa.text(
        "UPDATE department_score SET participants = :n"
        " WHERE department_id = :d AND period = :p AND period_key = :k"
    )
    for (department_id, period, key), count in counts.items():
        bind.execute(update, {"n": count, "d": department_id, "p": period, "k": key})


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def downgrade() -> None:
    # The counts stay as they are: the rule before this one counted everyone who
    # earned, which `points reconcile` of that version would report as different.
    pass
