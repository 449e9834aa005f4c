"""rule cap usage, and indexes for reading rule history from the ledger

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-25 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_cap_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("cap_period_key", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "employee_id", "rule_id", "cap_period_key", name="uq_rule_cap_usage"
        ),
    )
    # Existing ledgers: the running sums start as what the entries already say.
    op.execute(
        "INSERT INTO rule_cap_usage (employee_id, rule_id, cap_period_key, points) "
        "SELECT employee_id, rule_id, cap_period_key, SUM(points) FROM ledger_transaction "
        "WHERE rule_id IS NOT NULL AND cap_period_key IS NOT NULL "
        "AND kind IN ('award', 'reversal') GROUP BY employee_id, rule_id, cap_period_key"
    )
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_transaction_rule_employee", ["rule_id", "employee_id"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_transaction_once_value",
            ["once_value"],
            unique=False,
            postgresql_where=sa.text("once_value IS NOT NULL"),
            sqlite_where=sa.text("once_value IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transaction_once_value")
        batch_op.drop_index("ix_ledger_transaction_rule_employee")
    op.drop_table("rule_cap_usage")
