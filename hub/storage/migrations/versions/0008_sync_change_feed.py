"""sync change feed: index customers on (updated_at, id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

``hub contacts sync`` walks the customers changed since each sink's cursor in (updated_at,
id) order, page by page; without this index every page would scan and sort the whole table.
The same statement on SQLite and PostgreSQL.
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_customers_updated', 'customers', ['updated_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_customers_updated', table_name='customers')
