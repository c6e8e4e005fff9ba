"""pressure ledger and customer events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pressure_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('scenario', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consulted', sa.Text(), nullable=False),
    sa.Column('rule_set_version', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('pressure_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_decisions_customer', ['customer_id', 'decided_at'], unique=False)

    op.create_table('pressure_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('scenario', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('rule_set_version', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('pressure_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_customer_at', ['customer_id', 'at'], unique=False)
        batch_op.create_index('ix_ledger_status_expiry', ['status', 'expires_at'], unique=False)

    op.create_table('pressure_rule_sets',
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('first_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('customer_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_event_id', sa.String(length=256), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'source_event_id', name='uq_event_source_id')
    )
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.create_index('ix_events_customer_type', ['customer_id', 'type', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_customer_type')

    op.drop_table('customer_events')
    op.drop_table('pressure_rule_sets')
    with op.batch_alter_table('pressure_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_status_expiry')
        batch_op.drop_index('ix_ledger_customer_at')

    op.drop_table('pressure_ledger')
    with op.batch_alter_table('pressure_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_customer')

    op.drop_table('pressure_decisions')
