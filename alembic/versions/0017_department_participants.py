"""department participants kept with department scores; indexes the department boards read

The department boards read how many people earned in a department and period from
``department_score.participants`` (kept by the ledger writer from now on) and count
members with an index-only count of who is on the roll. This fills the new column
from the ledger: per person, department and local day in ``POINTS_TIMEZONE`` (the
zone the scores were cut in), rolled up to every period, counted where above zero.

Revision ID: 0017_participants
Revises: 0007
Create Date: 2026-11-28 10:00:00
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0017_participants"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON_ROLL_NOW = "status = 'active' AND NOT excluded"
OFF_ROLL_NOW = "(status <> 'active' OR excluded)"


def upgrade() -> None:
    with op.batch_alter_table("department_score", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("participants", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index(
            "ix_department_score_period", ["period", "period_key"], unique=False
        )
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.create_index(
            "ix_employee_on_roll",
            ["department_id"],
            unique=False,
            postgresql_where=sa.text(ON_ROLL_NOW),
            sqlite_where=sa.text(ON_ROLL_NOW),
        )
        batch_op.create_index(
            "ix_employee_off_roll",
            ["left_on"],
            unique=False,
            postgresql_where=sa.text(OFF_ROLL_NOW),
            sqlite_where=sa.text(OFF_ROLL_NOW),
        )
    _backfill()


def _backfill() -> None:
    from points.settings import Settings

    bind = op.get_bind()
    zone = Settings().zone
    if bind.dialect.name == "postgresql":
        from points.ledger.reconcile_pg import participants_sql

        bind.execute(
            sa.text(
                f"""
                UPDATE department_score s SET participants = c.participants
                FROM ({participants_sql(chunked=False)}) AS c
                WHERE s.department_id = c.department_id AND s.period = c.period
                  AND s.period_key = c.period_key
                """
            ),
            {"zone": getattr(zone, "key", "Asia/Shanghai")},
        )
        return
    from points.calendar import keys_of_day

    # SQLite (the embedded default, small): per person, department and local day.
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
    for (_employee_id, department_id, period, key), points in earned.items():
        if points > 0:
            counts[(department_id, period, key)] += 1
    update = sa.text(
        "UPDATE department_score SET participants = :n"
        " WHERE department_id = :d AND period = :p AND period_key = :k"
    )
    for (department_id, period, key), count in counts.items():
        bind.execute(update, {"n": count, "d": department_id, "p": period, "k": key})


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def downgrade() -> None:
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.drop_index("ix_employee_off_roll")
        batch_op.drop_index("ix_employee_on_roll")
    with op.batch_alter_table("department_score", schema=None) as batch_op:
        batch_op.drop_index("ix_department_score_period")
        batch_op.drop_column("participants")
