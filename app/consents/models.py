from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.changes.scope import ChangeScope
from app.db import (
    REMOVED,
    Base,
    created_at,
    enum_check,
    not_personal,
    personal,
    runtime_rights,
    uuid_pk,
)

BASES = ("parental", "social_services", "self")
DECISIONS = ("granted", "refused")
EVIDENCE = ("signed_form", "witnessed_verbal", "authority_document", "remote_confirmed")
REVIEW_STATUSES = ("pending_review", "verified", "rejected", "not_required")


class ConsentRecord(Base):
    """A decision about one person leaving: never edited or deleted, only revoked.

    The invariants of the rule that the database itself can hold are CHECK constraints:
    who gave it matches the basis, a review names its reviewer, nobody reviews their own
    record (four eyes), a revocation names who and why.
    """

    __tablename__ = "consent_records"
    __table_args__ = (
        enum_check("basis", BASES),
        enum_check("decision", DECISIONS),
        enum_check("evidence", EVIDENCE),
        enum_check("review_status", REVIEW_STATUSES),
        sa.CheckConstraint(
            "(basis = 'parental') = (guardianship_id IS NOT NULL)", name="parental_has_link"
        ),
        sa.CheckConstraint(
            "(basis = 'social_services') = (authority_name IS NOT NULL "
            "AND authority_decision_ref IS NOT NULL AND authority_decision_date IS NOT NULL)",
            name="authority_only_social_services",
        ),
        sa.CheckConstraint(
            "(review_status IN ('verified', 'rejected')) = "
            "(reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL)",
            name="review_has_reviewer",
        ),
        sa.CheckConstraint(
            "review_status <> 'rejected' OR review_note IS NOT NULL", name="rejection_has_note"
        ),
        sa.CheckConstraint("reviewed_by IS NULL OR reviewed_by <> recorded_by", name="four_eyes"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL) "
            "AND (revoked_at IS NULL) = (revocation_reason IS NULL)",
            name="revocation_complete",
        ),
        sa.Index("ix_consent_records_subject_id_given_at", "subject_id", "given_at"),
        sa.Index(
            "ix_consent_records_review_status_recorded_at_id", "review_status", "recorded_at", "id"
        ),
        sa.Index("ix_consent_records_recorded_at_id", "recorded_at", "id"),
        #: the service's rights: reviewed, revoked, anonymised and locked; never removed
        #: (a consent is revoked and a new one recorded)
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: its subject's, in their household (app.changes)
    __change_scope__ = ChangeScope(person="subject_id")

    id: Mapped[uuid_pk]
    #: The person the decision is about.
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("persons.id", ondelete="RESTRICT"))
    basis: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    decision: Mapped[str] = mapped_column(sa.String(8), info=not_personal())
    #: For a parental decision: the parent's guardianship link to the child.
    guardianship_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("guardianships.id", ondelete="RESTRICT"), index=True
    )
    #: For a social-services decision: the authority, its officer, decision number and date.
    #: A local authority and its case number point at one child: personal, like the officer.
    authority_name: Mapped[str | None] = mapped_column(
        sa.String(200), info=personal(placeholder=REMOVED)
    )
    authority_officer_name: Mapped[str | None] = mapped_column(sa.String(200), info=personal())
    authority_decision_ref: Mapped[str | None] = mapped_column(
        sa.String(100), info=personal(placeholder=REMOVED)
    )
    authority_decision_date: Mapped[dt.date | None] = mapped_column(info=not_personal())
    given_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    visit_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("visits.id", ondelete="RESTRICT")
    )
    evidence: Mapped[str] = mapped_column(sa.String(24), info=not_personal())
    witness_name: Mapped[str | None] = mapped_column(sa.String(200), info=personal())
    #: The last day the decision holds; None: until revoked.
    valid_until: Mapped[dt.date | None] = mapped_column(info=not_personal())
    notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    review_status: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    recorded_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_at: Mapped[created_at]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    review_note: Mapped[str | None] = mapped_column(sa.Text, info=personal(placeholder=REMOVED))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    revocation_reason: Mapped[str | None] = mapped_column(
        sa.Text, info=personal(placeholder=REMOVED)
    )

    def is_expired_on(self, day: dt.date) -> bool:
        return self.valid_until is not None and self.valid_until < day

    @property
    def authority(self) -> dict | None:
        if self.basis != "social_services":
            return None
        return {
            "name": self.authority_name,
            "officer_name": self.authority_officer_name,
            "decision_ref": self.authority_decision_ref,
            "decision_date": self.authority_decision_date,
        }
