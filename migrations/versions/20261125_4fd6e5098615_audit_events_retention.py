"""The audit trail (append-only in the database itself), retention's anonymised_at, stored eligibility for reports

Revision ID: 4fd6e5098615
Revises: b72bbf5aebf4
Create Date: 2026-11-25 10:45:47.873613
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '4fd6e5098615'
down_revision: str | Sequence[str] | None = 'b72bbf5aebf4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=128), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_actor_id_id', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_entity_type_entity_id_id', ['entity_type', 'entity_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_occurred_at', ['occurred_at'], unique=False)

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', app.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eligibility_state', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('eligibility_until', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_persons_eligibility_state'), ['eligibility_state'], unique=False)

    # the database refuses to change or remove an audit event, whoever asks
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$"""
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_eligibility_state'))
        batch_op.drop_column('eligibility_until')
        batch_op.drop_column('eligibility_state')

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_occurred_at')
        batch_op.drop_index('ix_audit_events_entity_type_entity_id_id')
        batch_op.drop_index('ix_audit_events_actor_id_id')

    op.drop_table('audit_events')
