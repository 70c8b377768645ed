from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.changes.scope import ChangeScope
from app.db import (
    REMOVED,
    Base,
    Versioned,
    created_at,
    enum_check,
    not_personal,
    personal,
    runtime_rights,
    updated_at,
    uuid_pk,
)

MODES = ("on_foot", "vehicle")
STATUSES = ("planned", "departed", "arrived", "cancelled")
ACTIVE_STATUSES = ("planned", "departed")


class Evacuation(Versioned, Base):
    """One movement out of the city: a team, a departure, and the people who go."""

    __tablename__ = "evacuations"
    __table_args__ = (
        enum_check("mode", MODES),
        enum_check("status", STATUSES),
        sa.Index(
            "ix_evacuations_team_id_planned_departure_id", "team_id", "planned_departure", "id"
        ),
        sa.Index("ix_evacuations_planned_departure_id", "planned_departure", "id"),
        #: the service's rights: steps, anonymising, locks; never removed (a cancelled one stays)
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: its team's, no household's; its steps reach its members' households (app.changes)
    __change_scope__ = ChangeScope(team="team_id")

    id: Mapped[uuid_pk]
    team_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teams.id", ondelete="RESTRICT"))
    planned_departure: Mapped[dt.datetime] = mapped_column(info=not_personal())
    mode: Mapped[str] = mapped_column(sa.String(8), info=not_personal())
    #: Where a family waits to leave: personal, like an address.
    meeting_point: Mapped[str] = mapped_column(sa.Text, info=personal(placeholder=REMOVED))
    route_notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    status: Mapped[str] = mapped_column(sa.String(10), default="planned", info=not_personal())
    departed_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    arrived_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    created_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    members: Mapped[list[EvacuationMember]] = relationship(
        lazy="raise_on_sql", order_by="EvacuationMember.added_at, EvacuationMember.person_id"
    )


class EvacuationMember(Base):
    """A person in an evacuation, with who accompanies them and where they go."""

    __tablename__ = "evacuation_members"
    __table_args__ = (
        sa.CheckConstraint(
            "accompanied_by_person_id IS NULL OR accompanied_by_person_id <> person_id",
            name="not_own_companion",
        ),
        #: the service's rights: a member is taken out of an evacuation before it departs
        runtime_rights("SELECT", "INSERT", "UPDATE", "DELETE"),
    )
    #: the person's, in their household
    __change_scope__ = ChangeScope(person="person_id")

    evacuation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("evacuations.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    #: An adult member of the same evacuation who accompanies this person (a child).
    accompanied_by_person_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="RESTRICT")
    )
    #: Or a named member of staff who escorts them.
    escort_user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    destination_offer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("housing_offers.id", ondelete="RESTRICT")
    )
    #: The consent record that made the person eligible when they were added.
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("consent_records.id", ondelete="RESTRICT")
    )
    added_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    added_at: Mapped[created_at]
