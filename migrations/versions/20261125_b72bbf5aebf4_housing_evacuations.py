"""Housing offers with photos, proposals, evacuations and their members

Revision ID: b72bbf5aebf4
Revises: 0c58295a96fb
Create Date: 2026-11-25 10:27:46.040679
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = 'b72bbf5aebf4'
down_revision: str | Sequence[str] | None = '0c58295a96fb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evacuations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('planned_departure', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('meeting_point', sa.Text(), nullable=False),
    sa.Column('route_notes', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('departed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("mode IN ('on_foot', 'vehicle')", name=op.f('ck_evacuations_mode')),
    sa.CheckConstraint("status IN ('planned', 'departed', 'arrived', 'cancelled')", name=op.f('ck_evacuations_status')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_evacuations_created_by_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_evacuations_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evacuations'))
    )
    with op.batch_alter_table('evacuations', schema=None) as batch_op:
        batch_op.create_index('ix_evacuations_planned_departure_id', ['planned_departure', 'id'], unique=False)
        batch_op.create_index('ix_evacuations_team_id_planned_departure_id', ['team_id', 'planned_departure', 'id'], unique=False)

    op.create_table('housing_offers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('locality', sa.String(length=120), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('rooms', sa.Integer(), nullable=True),
    sa.Column('monthly_rent', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('step_free', sa.Boolean(), nullable=False),
    sa.Column('pets_allowed', sa.Boolean(), nullable=False),
    sa.Column('available_from', sa.Date(), nullable=True),
    sa.Column('available_until', sa.Date(), nullable=True),
    sa.Column('provider_name', sa.String(length=200), nullable=True),
    sa.Column('provider_contact', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('apartment', 'house', 'room', 'shelter_place', 'dormitory')", name=op.f('ck_housing_offers_kind')),
    sa.CheckConstraint("status IN ('available', 'reserved', 'occupied', 'withdrawn')", name=op.f('ck_housing_offers_status')),
    sa.CheckConstraint('available_until IS NULL OR available_from IS NULL OR available_until >= available_from', name=op.f('ck_housing_offers_availability_window')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_housing_offers_capacity_positive')),
    sa.CheckConstraint('monthly_rent >= 0', name=op.f('ck_housing_offers_rent_not_negative')),
    sa.CheckConstraint('rooms IS NULL OR rooms >= 0', name=op.f('ck_housing_offers_rooms')),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name=op.f('ck_housing_offers_taken_within_capacity')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_housing_offers_created_by_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_offers'))
    )
    with op.batch_alter_table('housing_offers', schema=None) as batch_op:
        batch_op.create_index('ix_housing_offers_status_created_at_id', ['status', 'created_at', 'id'], unique=False)

    op.create_table('housing_photos',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('offer_id', sa.Uuid(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('caption', sa.String(length=500), nullable=True),
    sa.Column('uploaded_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f('ck_housing_photos_content_type')),
    sa.CheckConstraint('width > 0 AND height > 0', name=op.f('ck_housing_photos_dimensions')),
    sa.ForeignKeyConstraint(['offer_id'], ['housing_offers.id'], name=op.f('fk_housing_photos_offer_id_housing_offers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_housing_photos_uploaded_by_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_photos'))
    )
    with op.batch_alter_table('housing_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_housing_photos_offer_id'), ['offer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_housing_photos_sha256'), ['sha256'], unique=False)

    op.create_table('housing_proposals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('offer_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('places', sa.Integer(), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'accepted') = (places IS NOT NULL)", name=op.f('ck_housing_proposals_accepted_holds_places')),
    sa.CheckConstraint("status IN ('proposed', 'shown', 'accepted', 'declined', 'withdrawn')", name=op.f('ck_housing_proposals_status')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_housing_proposals_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offer_id'], ['housing_offers.id'], name=op.f('fk_housing_proposals_offer_id_housing_offers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['proposed_by'], ['users.id'], name=op.f('fk_housing_proposals_proposed_by_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_proposals'))
    )
    with op.batch_alter_table('housing_proposals', schema=None) as batch_op:
        batch_op.create_index('ix_housing_proposals_household_id_created_at_id', ['household_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_housing_proposals_offer_id'), ['offer_id'], unique=False)

    op.create_table('evacuation_members',
    sa.Column('evacuation_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('accompanied_by_person_id', sa.Uuid(), nullable=True),
    sa.Column('escort_user_id', sa.Uuid(), nullable=True),
    sa.Column('destination_offer_id', sa.Uuid(), nullable=True),
    sa.Column('consent_id', sa.Uuid(), nullable=True),
    sa.Column('added_by', sa.Uuid(), nullable=False),
    sa.Column('added_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('accompanied_by_person_id IS NULL OR accompanied_by_person_id <> person_id', name=op.f('ck_evacuation_members_not_own_companion')),
    sa.ForeignKeyConstraint(['accompanied_by_person_id'], ['persons.id'], name=op.f('fk_evacuation_members_accompanied_by_person_id_persons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_evacuation_members_added_by_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['consent_id'], ['consent_records.id'], name=op.f('fk_evacuation_members_consent_id_consent_records'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['destination_offer_id'], ['housing_offers.id'], name=op.f('fk_evacuation_members_destination_offer_id_housing_offers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['escort_user_id'], ['users.id'], name=op.f('fk_evacuation_members_escort_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evacuation_id'], ['evacuations.id'], name=op.f('fk_evacuation_members_evacuation_id_evacuations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_evacuation_members_person_id_persons'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('evacuation_id', 'person_id', name=op.f('pk_evacuation_members'))
    )
    with op.batch_alter_table('evacuation_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evacuation_members_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evacuation_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evacuation_members_person_id'))

    op.drop_table('evacuation_members')
    with op.batch_alter_table('housing_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_housing_proposals_offer_id'))
        batch_op.drop_index('ix_housing_proposals_household_id_created_at_id')

    op.drop_table('housing_proposals')
    with op.batch_alter_table('housing_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_housing_photos_sha256'))
        batch_op.drop_index(batch_op.f('ix_housing_photos_offer_id'))

    op.drop_table('housing_photos')
    with op.batch_alter_table('housing_offers', schema=None) as batch_op:
        batch_op.drop_index('ix_housing_offers_status_created_at_id')

    op.drop_table('housing_offers')
    with op.batch_alter_table('evacuations', schema=None) as batch_op:
        batch_op.drop_index('ix_evacuations_team_id_planned_departure_id')
        batch_op.drop_index('ix_evacuations_planned_departure_id')

    op.drop_table('evacuations')
