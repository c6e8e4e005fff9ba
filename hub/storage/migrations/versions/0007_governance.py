"""governance: what each sink holds, suppressions, erasure requests and steps, decommissions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

New tables only (no change to existing ones): the same statements on SQLite and PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa



revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sink_contacts',
    sa.Column('sink', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('view_digest', sa.String(length=64), nullable=True),
    sa.Column('fields', sa.String(length=512), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sink', 'customer_id')
    )
    op.create_index('ix_sink_contacts_customer', 'sink_contacts', ['customer_id'], unique=False)

    op.create_table('suppressions',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )

    op.create_table('erasure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'ix_erasure_requests_customer', 'erasure_requests', ['customer_id'], unique=False
    )

    op.create_table('erasure_steps',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('brick', sa.String(length=40), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['erasure_requests.id'], ),
    sa.PrimaryKeyConstraint('request_id', 'brick')
    )

    op.create_table('brick_decommissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brick', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('erase_remote', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reinstated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'ix_brick_decommissions_brick', 'brick_decommissions', ['brick'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_brick_decommissions_brick', table_name='brick_decommissions')
    op.drop_table('brick_decommissions')
    op.drop_table('erasure_steps')
    op.drop_index('ix_erasure_requests_customer', table_name='erasure_requests')
    op.drop_table('erasure_requests')
    op.drop_table('suppressions')
    op.drop_index('ix_sink_contacts_customer', table_name='sink_contacts')
    op.drop_table('sink_contacts')
