"""Visits with stances, consent records, household timeline

Revision ID: 0c58295a96fb
Revises: 19e3a0f8bc0c
Create Date: 2026-11-25 10:11:49.778303
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import app.db

revision: str = '0c58295a96fb'
down_revision: str | Sequence[str] | None = '19e3a0f8bc0c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('visits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('visited_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('concerns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('safety', sa.String(length=16), nullable=True),
    sa.Column('way_out', sa.String(length=16), nullable=True),
    sa.Column('next_visit_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('no_contact', 'talked', 'declined', 'agreed', 'consent_collected', 'postponed', 'unsafe_to_approach')", name=op.f('ck_visits_outcome')),
    sa.CheckConstraint("safety IS NULL OR safety IN ('calm', 'shelling', 'active_fighting')", name=op.f('ck_visits_safety')),
    sa.CheckConstraint("way_out IS NULL OR way_out IN ('vehicle', 'on_foot_only', 'none')", name=op.f('ck_visits_way_out')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_visits_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_visits_recorded_by_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_household_id_visited_at_id', ['household_id', 'visited_at', 'id'], unique=False)

    op.create_table('timeline_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('household_id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('entity_type', sa.String(length=24), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('recorded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('visit_logged', 'consent_recorded', 'consent_verified', 'consent_rejected', 'consent_revoked', 'guardian_linked', 'guardianship_changed')", name=op.f('ck_timeline_entries_kind')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_timeline_entries_actor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_timeline_entries_household_id_households'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_timeline_entries_person_id_persons'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_entries'))
    )
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_entries_household_id_occurred_at_recorded_at_id', ['household_id', 'occurred_at', 'recorded_at', 'id'], unique=False)

    op.create_table('visit_stances',
    sa.Column('visit_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stance', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("stance IN ('wants_to_leave', 'undecided', 'wants_to_stay')", name=op.f('ck_visit_stances_stance')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_visit_stances_person_id_persons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_stances_visit_id_visits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'person_id', name=op.f('pk_visit_stances'))
    )
    with op.batch_alter_table('visit_stances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_stances_person_id'), ['person_id'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('basis', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('guardianship_id', sa.Uuid(), nullable=True),
    sa.Column('authority_name', sa.String(length=200), nullable=True),
    sa.Column('authority_officer_name', sa.String(length=200), nullable=True),
    sa.Column('authority_decision_ref', sa.String(length=100), nullable=True),
    sa.Column('authority_decision_date', sa.Date(), nullable=True),
    sa.Column('given_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=True),
    sa.Column('evidence', sa.String(length=24), nullable=False),
    sa.Column('witness_name', sa.String(length=200), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by', sa.Uuid(), nullable=True),
    sa.Column('reviewed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('revoked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.Uuid(), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("(basis = 'parental') = (guardianship_id IS NOT NULL)", name=op.f('ck_consent_records_parental_has_link')),
    sa.CheckConstraint("(basis = 'social_services') = (authority_name IS NOT NULL AND authority_decision_ref IS NOT NULL AND authority_decision_date IS NOT NULL)", name=op.f('ck_consent_records_authority_only_social_services')),
    sa.CheckConstraint("(review_status IN ('verified', 'rejected')) = (reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL)", name=op.f('ck_consent_records_review_has_reviewer')),
    sa.CheckConstraint("basis IN ('parental', 'social_services', 'self')", name=op.f('ck_consent_records_basis')),
    sa.CheckConstraint("decision IN ('granted', 'refused')", name=op.f('ck_consent_records_decision')),
    sa.CheckConstraint("evidence IN ('signed_form', 'witnessed_verbal', 'authority_document', 'remote_confirmed')", name=op.f('ck_consent_records_evidence')),
    sa.CheckConstraint("review_status <> 'rejected' OR review_note IS NOT NULL", name=op.f('ck_consent_records_rejection_has_note')),
    sa.CheckConstraint("review_status IN ('pending_review', 'verified', 'rejected', 'not_required')", name=op.f('ck_consent_records_review_status')),
    sa.CheckConstraint('(revoked_at IS NULL) = (revoked_by IS NULL) AND (revoked_at IS NULL) = (revocation_reason IS NULL)', name=op.f('ck_consent_records_revocation_complete')),
    sa.CheckConstraint('reviewed_by IS NULL OR reviewed_by <> recorded_by', name=op.f('ck_consent_records_four_eyes')),
    sa.ForeignKeyConstraint(['guardianship_id'], ['guardianships.id'], name=op.f('fk_consent_records_guardianship_id_guardianships'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_consent_records_recorded_by_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_consent_records_reviewed_by_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], name=op.f('fk_consent_records_revoked_by_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subject_id'], ['persons.id'], name=op.f('fk_consent_records_subject_id_persons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_consent_records_visit_id_visits'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_guardianship_id'), ['guardianship_id'], unique=False)
        batch_op.create_index('ix_consent_records_recorded_at_id', ['recorded_at', 'id'], unique=False)
        batch_op.create_index('ix_consent_records_review_status_recorded_at_id', ['review_status', 'recorded_at', 'id'], unique=False)
        batch_op.create_index('ix_consent_records_subject_id_given_at', ['subject_id', 'given_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_records_subject_id_given_at')
        batch_op.drop_index('ix_consent_records_review_status_recorded_at_id')
        batch_op.drop_index('ix_consent_records_recorded_at_id')
        batch_op.drop_index(batch_op.f('ix_consent_records_guardianship_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('visit_stances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_stances_person_id'))

    op.drop_table('visit_stances')
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_entries_household_id_occurred_at_recorded_at_id')

    op.drop_table('timeline_entries')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_household_id_visited_at_id')

    op.drop_table('visits')
