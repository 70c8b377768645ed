"""Initial schema: teams, users, tokens, idempotency keys, households, persons, guardianships

Revision ID: 19e3a0f8bc0c
Revises: 
Create Date: 2026-11-25 09:52:59.037973
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import app.db

revision: str = '19e3a0f8bc0c'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('area', sa.String(length=200), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('households',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ref', sa.String(length=12), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('locality', sa.String(length=120), nullable=False),
    sa.Column('district', sa.String(length=120), nullable=True),
    sa.Column('address_description', sa.Text(), nullable=True),
    sa.Column('latitude', sa.Double(), nullable=True),
    sa.Column('longitude', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('needs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('last_visit_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_visit_due', sa.Date(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_households_priority')),
    sa.CheckConstraint("status IN ('identified', 'engaging', 'ready', 'evacuated', 'declined', 'closed')", name=op.f('ck_households_status')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_households_coordinates_both_or_neither')),
    sa.CheckConstraint('latitude IS NULL OR latitude BETWEEN -90 AND 90', name=op.f('ck_households_latitude')),
    sa.CheckConstraint('longitude IS NULL OR longitude BETWEEN -180 AND 180', name=op.f('ck_households_longitude')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_households_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('ref', name=op.f('uq_households_ref'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index('ix_households_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_households_team_id_created_at_id', ['team_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_next_visit_due'), ['next_visit_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_team_id'), ['team_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("role <> 'field_worker' OR team_id IS NOT NULL", name=op.f('ck_users_field_worker_has_team')),
    sa.CheckConstraint("role IN ('field_worker', 'coordinator', 'admin')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_users_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_team_id'), ['team_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('device_label', sa.String(length=100), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('locked_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state = 'in_flight' OR (status_code IS NOT NULL AND response_body IS NOT NULL)", name=op.f('ck_idempotency_keys_completed_has_response')),
    sa.CheckConstraint("state IN ('in_flight', 'completed')", name=op.f('ck_idempotency_keys_state')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_idempotency_keys_user_id_key'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_at'), ['expires_at'], unique=False)

    op.create_table('persons',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('dob_estimated', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('mobility', sa.String(length=16), nullable=False),
    sa.Column('medical_notes', sa.Text(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("mobility IN ('walks', 'walks_with_help', 'cannot_walk')", name=op.f('ck_persons_mobility')),
    sa.CheckConstraint("sex IN ('female', 'male', 'unknown')", name=op.f('ck_persons_sex')),
    sa.CheckConstraint("status IN ('present', 'evacuated', 'left', 'missing', 'deceased')", name=op.f('ck_persons_status')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_persons_household_id_households'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons'))
    )
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index('ix_persons_household_id_created_at_id', ['household_id', 'created_at', 'id'], unique=False)

    op.create_table('guardianships',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('child_id', sa.Uuid(), nullable=False),
    sa.Column('guardian_person_id', sa.Uuid(), nullable=True),
    sa.Column('external_name', sa.String(length=200), nullable=True),
    sa.Column('external_contact', sa.String(length=200), nullable=True),
    sa.Column('relationship', sa.String(length=20), nullable=False),
    sa.Column('legal_status', sa.String(length=20), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("legal_status IN ('active', 'deceased', 'missing', 'deprived_of_rights')", name=op.f('ck_guardianships_legal_status')),
    sa.CheckConstraint("relationship IN ('mother', 'father', 'adoptive_parent', 'legal_guardian', 'grandparent', 'sibling', 'other_relative', 'other')", name=op.f('ck_guardianships_relationship')),
    sa.CheckConstraint('(guardian_person_id IS NULL) <> (external_name IS NULL)', name=op.f('ck_guardianships_person_or_external')),
    sa.CheckConstraint('external_contact IS NULL OR external_name IS NOT NULL', name=op.f('ck_guardianships_contact_only_external')),
    sa.CheckConstraint('guardian_person_id <> child_id', name=op.f('ck_guardianships_not_own_guardian')),
    sa.ForeignKeyConstraint(['child_id'], ['persons.id'], name=op.f('fk_guardianships_child_id_persons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['guardian_person_id'], ['persons.id'], name=op.f('fk_guardianships_guardian_person_id_persons'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardianships')),
    sa.UniqueConstraint('child_id', 'guardian_person_id', name=op.f('uq_guardianships_child_id_guardian_person_id'))
    )
    with op.batch_alter_table('guardianships', schema=None) as batch_op:
        batch_op.create_index('ix_guardianships_child_id_created_at_id', ['child_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guardianships_guardian_person_id'), ['guardian_person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('guardianships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardianships_guardian_person_id'))
        batch_op.drop_index('ix_guardianships_child_id_created_at_id')

    op.drop_table('guardianships')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('ix_persons_household_id_created_at_id')

    op.drop_table('persons')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_expires_at'))

    op.drop_table('idempotency_keys')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_team_id'))

    op.drop_table('users')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_team_id'))
        batch_op.drop_index(batch_op.f('ix_households_status'))
        batch_op.drop_index(batch_op.f('ix_households_next_visit_due'))
        batch_op.drop_index('ix_households_team_id_created_at_id')
        batch_op.drop_index('ix_households_created_at_id')

    op.drop_table('households')
    op.drop_table('teams')
