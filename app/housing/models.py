from __future__ import annotations

import datetime as dt
import decimal
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

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

KINDS = ("apartment", "house", "room", "shelter_place", "dormitory")
OFFER_STATUSES = ("available", "reserved", "occupied", "withdrawn")
PROPOSAL_STATUSES = ("proposed", "shown", "accepted", "declined", "withdrawn")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


class HousingOffer(Versioned, Base):
    """A place a family could live, found by a team in advance."""

    __tablename__ = "housing_offers"
    __table_args__ = (
        enum_check("kind", KINDS),
        enum_check("status", OFFER_STATUSES),
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        #: places held by accepted proposals never exceed the capacity
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
        sa.CheckConstraint("rooms IS NULL OR rooms >= 0", name="rooms"),
        sa.CheckConstraint("monthly_rent >= 0", name="rent_not_negative"),
        sa.CheckConstraint(
            "available_until IS NULL OR available_from IS NULL "
            "OR available_until >= available_from",
            name="availability_window",
        ),
        sa.Index("ix_housing_offers_status_created_at_id", "status", "created_at", "id"),
        #: the service's rights: edited, withdrawn, anonymised, locked; never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )

    id: Mapped[uuid_pk]
    #: Free text ("the room at Hanna's"): personal, like the provider's name and the notes.
    title: Mapped[str] = mapped_column(sa.String(200), info=personal(placeholder=REMOVED))
    kind: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    locality: Mapped[str] = mapped_column(sa.String(120), info=not_personal())
    address: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    capacity: Mapped[int] = mapped_column(info=not_personal())
    #: Places held by accepted proposals; changed only under the offer's row lock.
    taken: Mapped[int] = mapped_column(default=0, info=not_personal())
    rooms: Mapped[int | None] = mapped_column(info=not_personal())
    #: 0 means free of rent.
    monthly_rent: Mapped[decimal.Decimal] = mapped_column(
        sa.Numeric(10, 2), default=0, info=not_personal()
    )
    currency: Mapped[str] = mapped_column(sa.String(3), default="UAH", info=not_personal())
    step_free: Mapped[bool] = mapped_column(default=False)
    pets_allowed: Mapped[bool] = mapped_column(default=False)
    available_from: Mapped[dt.date | None] = mapped_column(info=not_personal())
    available_until: Mapped[dt.date | None] = mapped_column(info=not_personal())
    provider_name: Mapped[str | None] = mapped_column(sa.String(200), info=personal())
    provider_contact: Mapped[str | None] = mapped_column(sa.String(200), info=personal())
    notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    status: Mapped[str] = mapped_column(sa.String(16), default="available", info=not_personal())
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    #: typed, so a cursor over it decodes (the bare difference of two columns is untyped)
    free_capacity: Mapped[int] = column_property(sa.type_coerce(capacity - taken, sa.Integer))
    photos: Mapped[list[HousingPhoto]] = relationship(
        lazy="raise_on_sql", order_by="HousingPhoto.created_at, HousingPhoto.id"
    )


class PhotoBlob(Base):
    """One stored photo file, named by its content hash; the lock its users take.

    Identical pictures are stored once. Whoever writes the file for a new photo, and whoever
    removes a file nobody uses any more, first locks this row: so the "nobody uses it"
    decision and a new photo's "the file is there" cannot interleave (see
    ``app.housing.photos.lock_blob``). The row exists while the file is kept.
    """

    __tablename__ = "photo_blobs"
    __table_args__ = (
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name="content_type"
        ),
        #: the service's rights: locked by an upsert; removed with the last photo that used its file
        runtime_rights("SELECT", "INSERT", "UPDATE", "DELETE"),
    )

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True, info=not_personal())
    content_type: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    created_at: Mapped[created_at]


class HousingPhoto(Base):
    """A photo of an offer, re-encoded without metadata, stored by its content hash."""

    __tablename__ = "housing_photos"
    __table_args__ = (
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name="content_type"
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name="dimensions"),
        #: the service's rights: added and deleted, never changed
        runtime_rights("SELECT", "INSERT", "DELETE"),
    )

    id: Mapped[uuid_pk]
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("housing_offers.id", ondelete="RESTRICT"), index=True
    )
    #: SHA-256 of the stored (clean) bytes: the file's name under the upload folder.
    sha256: Mapped[str] = mapped_column(
        sa.String(64),
        sa.ForeignKey("photo_blobs.sha256", ondelete="RESTRICT"),
        index=True,
        info=not_personal(),
    )
    content_type: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    width: Mapped[int] = mapped_column(info=not_personal())
    height: Mapped[int] = mapped_column(info=not_personal())
    size_bytes: Mapped[int] = mapped_column(info=not_personal())
    caption: Mapped[str | None] = mapped_column(sa.String(500), info=personal())
    uploaded_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]


class HousingProposal(Base):
    """An offer proposed to a household: proposed, shown, accepted, declined, withdrawn."""

    __tablename__ = "housing_proposals"
    __table_args__ = (
        enum_check("status", PROPOSAL_STATUSES),
        sa.CheckConstraint(
            "(status = 'accepted') = (places IS NOT NULL)", name="accepted_holds_places"
        ),
        sa.Index(
            "ix_housing_proposals_household_id_created_at_id", "household_id", "created_at", "id"
        ),
        #: the service's rights: decided, anonymised, locked; never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )
    #: the household's (app.changes); offers and photos belong to no household or team
    __change_scope__ = ChangeScope(household="household_id")

    id: Mapped[uuid_pk]
    household_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("households.id", ondelete="RESTRICT")
    )
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("housing_offers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="proposed", info=not_personal())
    notes: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    #: The places this proposal holds on the offer while accepted.
    places: Mapped[int | None] = mapped_column(info=not_personal())
    decided_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())
    reason: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    proposed_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
