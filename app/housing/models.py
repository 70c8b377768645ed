from __future__ import annotations

import datetime as dt
import decimal
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.db import Base, Versioned, created_at, enum_check, updated_at, uuid_pk

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
    )

    id: Mapped[uuid_pk]
    title: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    locality: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str | None] = mapped_column(sa.Text)
    capacity: Mapped[int] = mapped_column()
    #: Places held by accepted proposals; changed only under the offer's row lock.
    taken: Mapped[int] = mapped_column(default=0)
    rooms: Mapped[int | None]
    #: 0 means free of rent.
    monthly_rent: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(10, 2), default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="UAH")
    step_free: Mapped[bool] = mapped_column(default=False)
    pets_allowed: Mapped[bool] = mapped_column(default=False)
    available_from: Mapped[dt.date | None]
    available_until: Mapped[dt.date | None]
    provider_name: Mapped[str | None] = mapped_column(sa.String(200))
    provider_contact: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="available")
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


class HousingPhoto(Base):
    """A photo of an offer, re-encoded without metadata, stored by its content hash."""

    __tablename__ = "housing_photos"
    __table_args__ = (
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name="content_type"
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name="dimensions"),
    )

    id: Mapped[uuid_pk]
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("housing_offers.id", ondelete="RESTRICT"), index=True
    )
    #: SHA-256 of the stored (clean) bytes: the file's name under the upload folder.
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(16))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    caption: Mapped[str | None] = mapped_column(sa.String(500))
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
    )

    id: Mapped[uuid_pk]
    household_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("households.id", ondelete="RESTRICT")
    )
    offer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("housing_offers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="proposed")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    #: The places this proposal holds on the offer while accepted.
    places: Mapped[int | None]
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    proposed_by: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
