"""former departments, so department boards keep history when people move

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import points.db
from alembic import op

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing is known of moves before this: everyone starts in their department.
    op.create_table(
        "former_department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("since", points.db.AwareDateTime(), nullable=True),
        sa.Column("until", points.db.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("former_department", schema=None) as batch_op:
        batch_op.create_index("ix_former_department_until", ["until"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_former_department_employee_id"), ["employee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("former_department", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_former_department_employee_id"))
        batch_op.drop_index("ix_former_department_until")
    op.drop_table("former_department")
