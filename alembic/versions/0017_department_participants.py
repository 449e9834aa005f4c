"""department participants kept with department scores; indexes the department boards read

The department boards read how many people earned in a department and period from
``department_score.participants`` (kept by the ledger writer from now on) and count
members with an index-only count of who is on the roll. The column starts at zero:
the next migration (``0018_roll_participants``) counts it from the ledger, for the
people on the roll of each period, so the ledger is read once, not twice.

Revision ID: 0017_participants
Revises: 0007
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

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


def downgrade() -> None:
    with op.batch_alter_table("employee", schema=None) as batch_op:
        batch_op.drop_index("ix_employee_off_roll")
        batch_op.drop_index("ix_employee_on_roll")
    with op.batch_alter_table("department_score", schema=None) as batch_op:
        batch_op.drop_index("ix_department_score_period")
        batch_op.drop_column("participants")
