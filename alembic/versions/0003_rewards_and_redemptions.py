"""rewards, redemptions, voucher codes and the notification outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
import points.db
revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=2000), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('created_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('sent_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_unsent', ['sent_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_userid'), ['userid'], unique=False)

    op.create_table('reward',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('description_en', sa.String(length=2000), nullable=False),
    sa.Column('icon', sa.String(length=16), nullable=False),
    sa.Column('picture', sa.LargeBinary(), nullable=True),
    sa.Column('picture_type', sa.String(length=32), nullable=True),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('low_stock_at', sa.Integer(), nullable=False),
    sa.Column('limit_count', sa.Integer(), nullable=True),
    sa.Column('limit_period', sa.String(length=8), nullable=True),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('available_from', points.db.AwareDateTime(), nullable=True),
    sa.Column('available_until', points.db.AwareDateTime(), nullable=True),
    sa.Column('fulfilment', sa.String(length=16), nullable=False),
    sa.Column('leave_hours', sa.Integer(), nullable=True),
    sa.Column('approver', sa.String(length=8), nullable=False),
    sa.Column('expire_after_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('updated_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=96), nullable=False),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name='ck_reward_stock_not_negative'),
    sa.CheckConstraint('price > 0', name='ck_reward_price_positive'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('redemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('requested_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('requested_by', sa.String(length=96), nullable=False),
    sa.Column('expires_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('approved_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('approved_by', sa.String(length=96), nullable=True),
    sa.Column('closed_at', points.db.AwareDateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=96), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], ),
    sa.ForeignKeyConstraint(['reward_id'], ['reward.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('employee_id', 'idempotency_key', name='uq_redemption_idempotency')
    )
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.create_index('ix_redemption_employee_reward', ['employee_id', 'reward_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_redemption_status', ['status', 'requested_at'], unique=False)

    op.create_table('redemption_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('at', points.db.AwareDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=96), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('redemption_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemption_step_redemption_id'), ['redemption_id'], unique=False)

    op.create_table('voucher_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('batch', sa.String(length=100), nullable=False),
    sa.Column('uploaded_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=96), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('given_at', points.db.AwareDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], ),
    sa.ForeignKeyConstraint(['reward_id'], ['reward.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('redemption_id', name='uq_voucher_code_redemption'),
    sa.UniqueConstraint('reward_id', 'code', name='uq_voucher_code')
    )
    with op.batch_alter_table('voucher_code', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_code_free', ['reward_id', 'redemption_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('voucher_code', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_code_free')
    op.drop_table('voucher_code')
    with op.batch_alter_table('redemption_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemption_step_redemption_id'))
    op.drop_table('redemption_step')
    with op.batch_alter_table('redemption', schema=None) as batch_op:
        batch_op.drop_index('ix_redemption_status')
        batch_op.drop_index('ix_redemption_employee_reward')
    op.drop_table('redemption')
    op.drop_table('reward')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_userid'))
        batch_op.drop_index('ix_notification_unsent')
    op.drop_table('notification')
