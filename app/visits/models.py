from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.changes.scope import ChangeScope
from app.db import Base, created_at, enum_check, not_personal, personal, runtime_rights, uuid_pk
from app.households.models import JSONList

OUTCOMES = (
    "no_contact",
    "talked",
    "declined",
    "agreed",
    "consent_collected",
    "postponed",
    "unsafe_to_approach",
)
#: Outcomes that mean the team spoke with the family: the case is then `engaging`.
CONVERSATION_OUTCOMES = ("talked", "declined", "agreed", "consent_collected", "postponed")
STANCES = ("wants_to_leave", "undecided", "wants_to_stay")
CONCERNS = (
    "fear_of_separation",
    "no_money",
    "no_housing",
    "health",
    "property",
    "pets",
    "other",
)
SAFETY = ("calm", "shelling", "active_fighting")
WAYS_OUT = ("vehicle", "on_foot_only", "none")


class Visit(Base):
    """One visit of a team to a household. Never edited: a correction is a new visit."""

    __tablename__ = "visits"
    __table_args__ = (
        enum_check("outcome", OUTCOMES),
        sa.CheckConstraint(
            "safety IS NULL OR safety IN ('calm', 'shelling', 'active_fighting')", name="safety"
        ),
        sa.CheckConstraint(
            "way_out IS NULL OR way_out IN ('vehicle', 'on_foot_only', 'none')", name="way_out"
        ),
        sa.Index("ix_visits_household_id_visited_at_id", "household_id", "visited_at", "id"),
        #: the service's rights: anonymised by retention, never otherwise changed or removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: its household's (app.changes)
    __change_scope__ = ChangeScope(household="household_id")

    id: Mapped[uuid_pk]
    household_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("households.id", ondelete="RESTRICT")
    )
    #: The device's clock at the visit: often hours before the record reaches the server.
    visited_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    recorded_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    outcome: Mapped[str] = mapped_column(sa.String(24), info=not_personal())
    #: Codes only (CONCERNS).
    concerns: Mapped[list[str]] = mapped_column(JSONList, default=list, info=not_personal())
    safety: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    way_out: Mapped[str | None] = mapped_column(sa.String(16), info=not_personal())
    next_visit_on: Mapped[dt.date | None] = mapped_column(info=not_personal())
    notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    #: When the server received it.
    recorded_at: Mapped[created_at]

    stances: Mapped[list[VisitStance]] = relationship(
        lazy="raise_on_sql", order_by="VisitStance.position"
    )


class VisitStance(Base):
    """Where one person met on a visit stands: wants to leave, undecided, wants to stay."""

    __tablename__ = "visit_stances"
    __table_args__ = (
        enum_check("stance", STANCES),
        #: the service's rights: anonymised by retention, never otherwise changed or removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: the person's, in their household (the visit's)
    __change_scope__ = ChangeScope(person="person_id")

    visit_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    #: Order as given by the client.
    position: Mapped[int] = mapped_column(info=not_personal())
    stance: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    note: Mapped[str | None] = mapped_column(sa.Text, info=personal())
