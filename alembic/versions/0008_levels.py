"""levels (等级): the ladder HR sets; the reward each person pinned as their goal

Revision ID: 0008_levels
Revises: 0003
Create Date: 2026-11-27 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import points.db

from alembic import op

revision: str = "0008_levels"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty means the default ladder (points/levels/service.py) applies.
    op.create_table(
        "level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.CheckConstraint("min_points >= 0", name="ck_level_min_points"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("min_points"),
    )
    op.create_table(
        "reward_goal",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("pinned_at", points.db.AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employee.id"]),
        sa.ForeignKeyConstraint(["reward_id"], ["reward.id"]),
        sa.PrimaryKeyConstraint("employee_id"),
    )


def downgrade() -> None:
    op.drop_table("reward_goal")
    op.drop_table("level")
