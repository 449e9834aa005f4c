"""integrity flags (积分异常复核) and the index the scan reads events by

Revision ID: 0016_integrity
Revises: 0002
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import points.db
from alembic import op

revision: str = "0016_integrity"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrity_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(length=24), nullable=False),
        sa.Column("subject", sa.String(length=96), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("updated_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("reviewed_at", points.db.AwareDateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=96), nullable=False),
        sa.Column("review_note", sa.String(length=500), nullable=False),
        sa.Column("reviewed_severity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("employee_id", "pattern", "subject", name="uq_integrity_flag"),
    )
    op.create_index("ix_integrity_flag_status_since", "integrity_flag", ["status", "since"])
    # The scan reads every event of a bounded window (the last 28 days): by time first.
    op.create_index("ix_activity_event_occurred", "activity_event", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_activity_event_occurred", table_name="activity_event")
    op.drop_index("ix_integrity_flag_status_since", table_name="integrity_flag")
    op.drop_table("integrity_flag")
