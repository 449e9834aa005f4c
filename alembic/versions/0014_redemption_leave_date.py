"""the day of paid leave a redemption asks for, shown to the approving head

Revision ID: 0014_leave_date
Revises: 0003
Create Date: 2026-11-27 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014_leave_date"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("redemption") as batch_op:
        batch_op.add_column(sa.Column("leave_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redemption") as batch_op:
        batch_op.drop_column("leave_date")
