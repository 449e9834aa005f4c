"""per-person rule progress (milestone counts, challenge goals) and what each event added

Revision ID: 0014_progress
Revises: 0002
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_progress"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_progress",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("employee_id", "rule_id"),
    )
    op.create_table(
        "rule_progress_contribution",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.JSON(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("event_id", "rule_id"),
    )


def downgrade() -> None:
    op.drop_table("rule_progress_contribution")
    op.drop_table("rule_progress")
