"""appeals, job runs (the schedule's database lock) and admin-edited texts

Revision ID: 0008_ops
Revises: 0002
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import points.db
from alembic import op

revision: str = "0008_ops"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("decided_at", points.db.AwareDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=96), nullable=False),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_transaction.id"]),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appeal_employee_id", "appeal", ["employee_id"])
    op.create_index("ix_appeal_department_id", "appeal", ["department_id"])
    op.create_index("ix_appeal_status_created", "appeal", ["status", "created_at"])
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=48), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("runner", sa.String(length=96), nullable=False),
        sa.Column("started_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("finished_at", points.db.AwareDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot", name="uq_job_run_slot"),
    )
    op.create_index("ix_job_run_job_started", "job_run", ["job", "started_at"])
    op.create_table(
        "site_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "locale", name="uq_site_text"),
    )


def downgrade() -> None:
    op.drop_table("site_text")
    op.drop_index("ix_job_run_job_started", table_name="job_run")
    op.drop_table("job_run")
    op.drop_index("ix_appeal_status_created", table_name="appeal")
    op.drop_index("ix_appeal_department_id", table_name="appeal")
    op.drop_index("ix_appeal_employee_id", table_name="appeal")
    op.drop_table("appeal")
