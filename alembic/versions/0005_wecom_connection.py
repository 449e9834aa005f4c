"""wecom connection: connector progress, callback health, on-time policy, behaviour data

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
import points.db
revision: str = '0005'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('wecom_approval_policy',
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('controls', sa.JSON(), nullable=False),
    sa.Column('titles', sa.JSON(), nullable=False),
    sa.Column('min_hours_before', sa.Float(), nullable=True),
    sa.Column('max_hours_after', sa.Float(), nullable=True),
    sa.Column('updated_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('template')
    )
    op.create_table('wecom_behavior_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('chat_cnt', sa.Integer(), nullable=False),
    sa.Column('message_cnt', sa.Integer(), nullable=False),
    sa.Column('new_apply_cnt', sa.Integer(), nullable=False),
    sa.Column('new_contact_cnt', sa.Integer(), nullable=False),
    sa.Column('negative_feedback_cnt', sa.Integer(), nullable=False),
    sa.Column('fetched_at', points.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('userid', 'day', name='uq_wecom_behavior_day')
    )
    with op.batch_alter_table('wecom_behavior_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wecom_behavior_day_day'), ['day'], unique=False)

    op.create_table('wecom_callback_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_verification_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_verification_ok', sa.Boolean(), nullable=True),
    sa.Column('last_verification_error', sa.String(length=64), nullable=True),
    sa.Column('last_callback_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_callback_event', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('wecom_connector',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('window_start', points.db.AwareDateTime(), nullable=True),
    sa.Column('window_end', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_run_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_success_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_error_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('last_result', sa.JSON(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('wecom_connector')
    op.drop_table('wecom_callback_status')
    with op.batch_alter_table('wecom_behavior_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wecom_behavior_day_day'))

    op.drop_table('wecom_behavior_day')
    op.drop_table('wecom_approval_policy')
