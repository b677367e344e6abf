"""scheduler, digests, leases, quarantine

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digestrun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'period', 'target', name='uq_digestrun_kind_period_target')
    )
    op.create_table('lease',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('quarantinedpayload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='citizen'))
        batch_op.add_column(sa.Column('buttons', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('followup_asked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('fixed_confirmed', sa.Boolean(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('fixed_confirmed')
        batch_op.drop_column('followup_asked_at')
        batch_op.drop_column('escalated_at')

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('buttons')
        batch_op.drop_column('audience')

    op.drop_table('quarantinedpayload')
    op.drop_table('lease')
    op.drop_table('digestrun')
