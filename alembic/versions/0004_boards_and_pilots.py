"""frozen boards, pilot programmes and the indexes boards and dashboards read through

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
import points.db
revision: str = '0004'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFF_BOARD_SQL = "excluded OR status = 'left'"


def upgrade() -> None:
    op.create_table('frozen_board',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('closed_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('frozen_at', points.db.AwareDateTime(), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'period_key', name='uq_frozen_board_period')
    )
    op.create_table('frozen_rank',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['board_id'], ['frozen_board.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('board_id', 'employee_id', name='uq_frozen_rank_person')
    )
    with op.batch_alter_table('frozen_rank', schema=None) as batch_op:
        batch_op.create_index('ix_frozen_rank_board_rank', ['board_id', 'rank'], unique=False)

    op.create_table('pilot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('department_ids', sa.JSON(), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('goals', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('created_at', points.db.AwareDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.create_index('ix_employee_off_board', ['id'], unique=False, postgresql_where=sa.text(OFF_BOARD_SQL), sqlite_where=sa.text(OFF_BOARD_SQL))
    with op.batch_alter_table('activity_event', schema=None) as batch_op:
        batch_op.create_index('ix_activity_event_occurred_employee', ['occurred_at', 'employee_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity_event', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_event_occurred_employee')
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.drop_index('ix_employee_off_board')
    op.drop_table('pilot')
    with op.batch_alter_table('frozen_rank', schema=None) as batch_op:
        batch_op.drop_index('ix_frozen_rank_board_rank')
    op.drop_table('frozen_rank')
    op.drop_table('frozen_board')
