"""wecom resilience: connector position, backoff and health; quarantined records;
outbox sends whose outcome is unknown

Revision ID: 0007w
Revises: 0005
Create Date: 2026-11-27 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import points.db
from alembic import op

revision: str = "0007w"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
# The outbox table (notification) comes with the rewards branch.
depends_on: str | Sequence[str] | None = "0003"


def upgrade() -> None:
    with op.batch_alter_table("wecom_connector", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("position", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("backoff_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("backoff_until", points.db.AwareDateTime(), nullable=True))
        batch_op.add_column(sa.Column("lag_warned_at", points.db.AwareDateTime(), nullable=True))
    op.create_table(
        "wecom_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=32), nullable=False),
        sa.Column("record_key", sa.String(length=96), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("first_seen_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("last_seen_at", points.db.AwareDateTime(), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector", "record_key", name="uq_wecom_quarantine_record"),
    )
    with op.batch_alter_table("wecom_quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wecom_quarantine_connector"), ["connector"], unique=False
        )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("uncertain_since", points.db.AwareDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("uncertain_since")
        batch_op.drop_column("send_key")
    with op.batch_alter_table("wecom_quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wecom_quarantine_connector"))
    op.drop_table("wecom_quarantine")
    with op.batch_alter_table("wecom_connector", schema=None) as batch_op:
        for column in ("lag_warned_at", "backoff_until", "backoff_level"):
            batch_op.drop_column(column)
        batch_op.drop_column("position")
        batch_op.drop_column("status")
