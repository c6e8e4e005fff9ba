"""identity: merge log, merged customers' pointer, parked anonymous events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

``customers.merged_into`` points a merged customer at its survivor (no foreign key: SQLite
could only add one by rebuilding ``customers``, which every other table references).
``identity_merges`` is the append-only merge log. ``parked_letters`` indexes event dead
letters by the digest of each unknown cookie they carried, so the hub replays them as soon as a
verified link attaches that cookie. Plain ``ADD COLUMN`` and new tables: the same statements on
SQLite and PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('customers', sa.Column('merged_into', sa.String(length=40), nullable=True))
    op.create_index('ix_customers_merged_into', 'customers', ['merged_into'], unique=False)

    op.create_table('identity_merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('survivor_id', sa.String(length=40), nullable=False),
    sa.Column('absorbed_id', sa.String(length=40), nullable=False),
    sa.Column('evidence', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('source_reference', sa.String(length=256), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('moved', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('refers_to', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['refers_to'], ['identity_merges.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('refers_to')
    )
    op.create_index('ix_identity_merges_survivor', 'identity_merges', ['survivor_id', 'id'], unique=False)
    op.create_index('ix_identity_merges_absorbed', 'identity_merges', ['absorbed_id', 'id'], unique=False)

    op.create_table('parked_letters',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('dead_letter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dead_letter_id'], ['dead_letters.id'], ),
    sa.PrimaryKeyConstraint('digest', 'dead_letter_id')
    )


def downgrade() -> None:
    op.drop_table('parked_letters')
    op.drop_index('ix_identity_merges_absorbed', table_name='identity_merges')
    op.drop_index('ix_identity_merges_survivor', table_name='identity_merges')
    op.drop_table('identity_merges')
    op.drop_index('ix_customers_merged_into', table_name='customers')
    # A plain DROP COLUMN (SQLite >= 3.35): a batch rebuild of ``customers`` would drop the
    # table every other one references.
    op.drop_column('customers', 'merged_into')
