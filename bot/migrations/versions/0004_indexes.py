"""indexes for a million tickets (the unfinished-ticket index is partial)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_received_at'), ['received_at'], unique=False)

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outboxmessage_next_attempt_at'), ['next_attempt_at'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_duplicate_of'), ['duplicate_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_resolved_at'), ['resolved_at'], unique=False)
        batch_op.create_index('ix_ticket_unfinished', ['created_at'], unique=False, sqlite_where=sa.text("status NOT IN ('resolved', 'closed')"), postgresql_where=sa.text("status NOT IN ('resolved', 'closed')"))



def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_unfinished', sqlite_where=sa.text("status NOT IN ('resolved', 'closed')"), postgresql_where=sa.text("status NOT IN ('resolved', 'closed')"))
        batch_op.drop_index(batch_op.f('ix_ticket_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_ticket_duplicate_of'))
        batch_op.drop_index(batch_op.f('ix_ticket_created_at'))

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outboxmessage_next_attempt_at'))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_received_at'))

