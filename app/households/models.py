from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, column_property, mapped_column

from app.changes.scope import ChangeScope
from app.db import (
    ANONYMISED,
    Base,
    Versioned,
    created_at,
    enum_check,
    not_personal,
    personal,
    runtime_rights,
    updated_at,
    utcnow,
    uuid_pk,
)

HOUSEHOLD_STATUSES = ("identified", "engaging", "ready", "evacuated", "declined", "closed")
#: Why a household was closed (DESIGN §10); kept while it stays closed.
CLOSE_REASONS = (
    "evacuated_and_arrived",
    "left_by_other_means",
    "deceased",
    "moved_away",
    "duplicate",
)
#: What moved a household to its status (DESIGN §10): someone's decision, a logged visit,
#: an evacuation's arrival.
STATUS_CAUSES = ("request", "visit", "arrival")
PRIORITIES = ("low", "normal", "high", "urgent")
NEEDS = (
    "transport_money",
    "rent_money",
    "housing",
    "medical",
    "mobility_support",
    "documents",
    "pets",
)
SEXES = ("female", "male", "unknown")
PERSON_STATUSES = ("present", "evacuated", "left", "missing", "deceased")
MOBILITIES = ("walks", "walks_with_help", "cannot_walk")
RELATIONSHIPS = (
    "mother",
    "father",
    "adoptive_parent",
    "legal_guardian",
    "grandparent",
    "sibling",
    "other_relative",
    "other",
)
PARENT_RELATIONSHIPS = ("mother", "father", "adoptive_parent")
LEGAL_STATUSES = ("active", "deceased", "missing", "deprived_of_rights")

ADULT_AGE = 18
ELDERLY_AGE = 60
#: Older than this is a typing error, not a person (estimated ages stop here too).
MAX_AGE = 120

JSONList = sa.JSON().with_variant(JSONB(), "postgresql")


def today() -> dt.date:
    """The day ages are counted on: today in UTC."""
    return utcnow().date()


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Household(Versioned, Base):
    __tablename__ = "households"
    __table_args__ = (
        enum_check("status", HOUSEHOLD_STATUSES),
        enum_check("priority", PRIORITIES),
        enum_check("closed_reason", CLOSE_REASONS),
        enum_check("status_cause", STATUS_CAUSES),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_reason IS NOT NULL)", name="closed_with_a_reason"
        ),
        sa.CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude"),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)", name="coordinates_both_or_neither"
        ),
        sa.Index("ix_households_created_at_id", "created_at", "id"),
        #: a field worker's list: their team's households, newest first
        sa.Index("ix_households_team_id_created_at_id", "team_id", "created_at", "id"),
        #: the service's rights: edited, moved through its statuses, anonymised, locked;
        #: never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: its changes are its own, and its team's (app.changes)
    __change_scope__ = ChangeScope(household="id")

    id: Mapped[uuid_pk]
    #: Short, unique, readable over a radio (e.g. "K7M-4QX").
    ref: Mapped[str] = mapped_column(sa.String(12), unique=True, info=not_personal())
    #: The team that visits the household; None until a coordinator assigns one.
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="RESTRICT"), index=True
    )
    #: Town and district, not the address: kept for the statistics.
    locality: Mapped[str] = mapped_column(sa.String(120), info=not_personal())
    district: Mapped[str | None] = mapped_column(sa.String(120), info=not_personal())
    address_description: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    latitude: Mapped[float | None] = mapped_column(info=personal())
    longitude: Mapped[float | None] = mapped_column(info=personal())
    #: Changed only by ``households.lifecycle.change_household_status`` (DESIGN §10).
    status: Mapped[str] = mapped_column(
        sa.String(16), default="identified", index=True, info=not_personal()
    )
    #: What moved it to its status (STATUS_CAUSES), set with every change of its status;
    #: None before its first one (and on rows older than this column). The timeline's
    #: ``status_changed`` entry reads its ``cause`` here.
    status_cause: Mapped[str | None] = mapped_column(sa.String(8), info=not_personal())
    #: Why it was closed: set with ``closed``, cleared when it is re-opened.
    closed_reason: Mapped[str | None] = mapped_column(sa.String(24), info=not_personal())
    #: The coordinator's words on closing, if any: personal, like every free text.
    closed_note: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    priority: Mapped[str] = mapped_column(sa.String(8), default="normal", info=not_personal())
    #: Codes only (NEEDS).
    needs: Mapped[list[str]] = mapped_column(JSONList, default=list, info=not_personal())
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40), info=personal())
    notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    last_visit_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    next_visit_due: Mapped[dt.date | None] = mapped_column(index=True, info=not_personal())
    #: When retention removed the case's personal data (names, contacts, notes).
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    #: 0 (low) to 3 (urgent): orders lists most urgent first.
    priority_rank: Mapped[int] = column_property(
        sa.case({p: rank for rank, p in enumerate(PRIORITIES)}, value=priority)
    )

    #: Counts of the people still present, filled in by the queries that load households.
    member_count = 0
    child_count = 0


class Person(Versioned, Base):
    __tablename__ = "persons"
    __table_args__ = (
        enum_check("sex", SEXES),
        enum_check("status", PERSON_STATUSES),
        enum_check("mobility", MOBILITIES),
        sa.Index("ix_persons_household_id_created_at_id", "household_id", "created_at", "id"),
        #: the service's rights: edited, anonymised, locked (the lock order); never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: its own, in its household
    __change_scope__ = ChangeScope(household="household_id", person="id")

    id: Mapped[uuid_pk]
    household_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("households.id", ondelete="RESTRICT")
    )
    full_name: Mapped[str] = mapped_column(sa.String(200), info=personal(placeholder=ANONYMISED))
    sex: Mapped[str] = mapped_column(sa.String(8), default="unknown", info=not_personal())
    #: The birth date, or an estimate of it when only an age was known (dob_estimated).
    #: Never in the audit trail. Retention keeps it: the statistics an anonymised case keeps
    #: (ages, children and elderly counted) are read from it.
    date_of_birth: Mapped[dt.date] = mapped_column(info=personal(kept_by_retention=True))
    dob_estimated: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(10), default="present", info=not_personal())
    mobility: Mapped[str] = mapped_column(sa.String(16), default="walks", info=not_personal())
    medical_notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    #: The rule's answer as of the last change that could move it ("eligible" or the first
    #: blocking code) and the day the consent behind an "eligible" runs out: kept for
    #: reports, which count without evaluating every person. The rule itself never reads it.
    eligibility_state: Mapped[str | None] = mapped_column(
        sa.String(32), index=True, info=not_personal()
    )
    eligibility_until: Mapped[dt.date | None] = mapped_column(info=not_personal())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    def age_on(self, day: dt.date) -> int:
        return age_on(self.date_of_birth, day)

    def is_child_on(self, day: dt.date) -> bool:
        return self.age_on(day) < ADULT_AGE

    @property
    def age(self) -> int:
        return self.age_on(today())

    @property
    def is_child(self) -> bool:
        return self.age < ADULT_AGE

    @property
    def is_elderly(self) -> bool:
        return self.age >= ELDERLY_AGE


class Guardianship(Versioned, Base):
    """A child's link to an adult: a household member or someone outside it."""

    __tablename__ = "guardianships"
    __table_args__ = (
        enum_check("relationship", RELATIONSHIPS),
        enum_check("legal_status", LEGAL_STATUSES),
        sa.CheckConstraint(
            "(guardian_person_id IS NULL) <> (external_name IS NULL)",
            name="person_or_external",
        ),
        sa.CheckConstraint(
            "external_contact IS NULL OR external_name IS NOT NULL",
            name="contact_only_external",
        ),
        sa.CheckConstraint("guardian_person_id <> child_id", name="not_own_guardian"),
        sa.UniqueConstraint("child_id", "guardian_person_id"),
        sa.Index("ix_guardianships_child_id_created_at_id", "child_id", "created_at", "id"),
        #: the service's rights: a legal status changes, anonymised, locked; never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: the child's, in the child's household
    __change_scope__ = ChangeScope(person="child_id")

    id: Mapped[uuid_pk]
    child_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("persons.id", ondelete="RESTRICT"))
    guardian_person_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="RESTRICT"), index=True
    )
    #: A guardian who is not a household member here (a parent abroad): name and contact.
    external_name: Mapped[str | None] = mapped_column(
        sa.String(200), info=personal(placeholder=ANONYMISED)
    )
    external_contact: Mapped[str | None] = mapped_column(sa.String(200), info=personal())
    relationship: Mapped[str] = mapped_column(sa.String(20), info=not_personal())
    legal_status: Mapped[str] = mapped_column(sa.String(20), default="active", info=not_personal())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    @property
    def is_parent(self) -> bool:
        """Only an active mother, father or adoptive parent may consent for a child."""
        return self.relationship in PARENT_RELATIONSHIPS and self.legal_status == "active"
