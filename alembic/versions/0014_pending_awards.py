"""awards waiting for review (review before award)

Revision ID: 0014_reviews
Revises: 0002
Create Date: 2026-11-27 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_reviews"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cap_period_key", sa.String(length=32), nullable=True),
        sa.Column("once_value", sa.String(length=200), nullable=True),
        sa.Column("badge", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("reason_en", sa.String(length=500), nullable=False),
        sa.Column("reviewer", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=96), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["activity_event.id"]),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_pending_award_status_expires", "pending_award", ["status", "expires_at"])
    op.create_index("ix_pending_award_employee_status", "pending_award", ["employee_id", "status"])
    op.create_index("ix_pending_award_event", "pending_award", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_award_event", table_name="pending_award")
    op.drop_index("ix_pending_award_employee_status", table_name="pending_award")
    op.drop_index("ix_pending_award_status_expires", table_name="pending_award")
    op.drop_table("pending_award")
