"""pilots learn: an owner for the weekly report, and the weekly pulse answers

Revision ID: 0014_pilot_pulse
Revises: 0004
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_pilot_pulse"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pilot") as batch_op:
        batch_op.add_column(
            sa.Column("owner", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_table(
        "pilot_pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("week_key", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pilot_id"], ["pilot.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["activity_event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pilot_id", "employee_id", "week_key"),
    )
    op.create_index("ix_pilot_pulse_pilot_id", "pilot_pulse", ["pilot_id"])


def downgrade() -> None:
    op.drop_index("ix_pilot_pulse_pilot_id", table_name="pilot_pulse")
    op.drop_table("pilot_pulse")
    with op.batch_alter_table("pilot") as batch_op:
        batch_op.drop_column("owner")
