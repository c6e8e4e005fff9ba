"""granted decisions in their ledger row; status index for reservations only

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

A granted reserve decision used to write a ``pressure_decisions`` row next to its ledger row;
it now lives in the ledger row (``decision_reason``, ``decision_consulted``, and
``decision_at`` when a commit moved ``at``): one row and three index entries fewer per granted
send. Decisions stored before stay in ``pressure_decisions``, where the hub still reads them.
The status index becomes partial (reservations only): sent rows never need it.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pressure_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_reason', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('decision_consulted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('decision_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_ledger_status_expiry')
        batch_op.create_index('ix_ledger_status_expiry', ['status', 'expires_at'], unique=False, sqlite_where=sa.text("status = 'reserved'"), postgresql_where=sa.text("status = 'reserved'"))


def downgrade() -> None:
    # Granted decisions go back to pressure_decisions before their columns are dropped.
    op.execute(
        "INSERT INTO pressure_decisions (customer_id, channel, scenario, kind, at, outcome, "
        "rule, reason, until, consulted, rule_set_version, idempotency_key, reservation_id, "
        "decided_at) SELECT customer_id, channel, scenario, kind, COALESCE(decision_at, at), "
        "'allowed', NULL, decision_reason, NULL, decision_consulted, rule_set_version, "
        "idempotency_key, id, created_at FROM pressure_ledger "
        "WHERE decision_consulted IS NOT NULL ORDER BY id"
    )
    with op.batch_alter_table('pressure_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_status_expiry', sqlite_where=sa.text("status = 'reserved'"), postgresql_where=sa.text("status = 'reserved'"))
        batch_op.create_index('ix_ledger_status_expiry', ['status', 'expires_at'], unique=False)
        batch_op.drop_column('decision_at')
        batch_op.drop_column('decision_consulted')
        batch_op.drop_column('decision_reason')
