"""read-only tokens, session epochs, event submitters, adjustments awaiting a second approver

Revision ID: 0013_security
Revises: 0002
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013_security"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.add_column(
            sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("employee") as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("activity_event") as batch_op:
        batch_op.add_column(sa.Column("submitted_by", sa.String(length=96), nullable=True))
    op.create_table(
        "pending_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=96), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=96), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key", name="uq_pending_adjustment_request_key"),
    )
    op.create_index("ix_pending_adjustment_status", "pending_adjustment", ["status"])


def downgrade() -> None:
    op.drop_index("ix_pending_adjustment_status", table_name="pending_adjustment")
    op.drop_table("pending_adjustment")
    with op.batch_alter_table("activity_event") as batch_op:
        batch_op.drop_column("submitted_by")
    with op.batch_alter_table("employee") as batch_op:
        batch_op.drop_column("session_epoch")
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.drop_column("read_only")
