"""Housing offers: recorded and managed by coordinators, read by every case role.

An offer's places are taken and given back only under its row lock, so two households can
never take the last place; its status follows its places (``settle_status``). The
domain's other service modules: an offer's photos (``app.housing.photos``), matching
offers to a household (``app.housing.matching``), and proposing them
(``app.housing.proposals``). Every function that changes something checks its actor
(DESIGN §2): coordinators manage offers and their photos. Functions flush; the request
commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import require_role
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.housing.models import HousingOffer, HousingProposal

#: What a role that may not manage offers may not do (403 ``role_forbidden``).
MANAGING_OFFERS = "manage housing offers or their photos"
OFFER_FIELDS = (
    "title",
    "kind",
    "locality",
    "address",
    "capacity",
    "rooms",
    "monthly_rent",
    "currency",
    "step_free",
    "pets_allowed",
    "available_from",
    "available_until",
    "provider_name",
    "provider_contact",
    "notes",
)


def offers_query(*, status: str | None = None, locality: str | None = None) -> sa.Select:
    stmt = sa.select(HousingOffer)
    if status:
        stmt = stmt.where(HousingOffer.status == status)
    if locality:
        stmt = stmt.where(
            sa.func.lower(HousingOffer.locality).contains(locality.lower(), autoescape=True)
        )
    return stmt


def load_offers(stmt: sa.Select) -> list[HousingOffer]:
    return list(db.session.scalars(stmt.options(selectinload(HousingOffer.photos))))


def saw_offers(
    offers: list[HousingOffer], via: str = "housing_offers", actor: User | None = None
) -> None:
    """Offers were shown (an address, the provider's name and contact): each counts as
    looked at."""
    audit.record_read(
        "housing_offers",
        [offer.id for offer in offers],
        actor_id=actor.id if actor else None,
        via=via,
    )


def read_offer(offer_id: uuid.UUID) -> HousingOffer:
    """An offer with its photos, as someone looks at it (the look is audited)."""
    offer = get_offer(offer_id)
    saw_offers([offer], via="housing_offer")
    return offer


def get_offer(offer_id: uuid.UUID, *, for_update: bool = False) -> HousingOffer:
    stmt = sa.select(HousingOffer).where(HousingOffer.id == offer_id)
    if for_update:
        stmt = stmt.with_for_update()
    offer = db.session.scalar(stmt.options(selectinload(HousingOffer.photos)))
    if offer is None:
        raise NotFound("No such housing offer.")
    return offer


def _check_window(offer: HousingOffer) -> None:
    if (
        offer.available_from
        and offer.available_until
        and offer.available_until < offer.available_from
    ):
        raise Invalid({"available_until": ["The offer cannot end before it starts."]})


def create_offer(actor: User, data: dict) -> HousingOffer:
    require_role(actor, COORDINATOR, doing=MANAGING_OFFERS)
    offer = HousingOffer(
        id=ensure_new_id(HousingOffer, data.get("id")),
        created_by=actor.id,
        **{k: data[k] for k in OFFER_FIELDS if k in data},
    )
    _check_window(offer)
    db.session.add(offer)
    db.session.flush()
    offer = get_offer(offer.id)
    saw_offers([offer], via="create_offer", actor=actor)
    return offer


def settle_status(offer: HousingOffer) -> None:
    """A full offer is reserved; one with room again is available (under its lock, taken
    by whoever changed its places)."""
    if offer.status in ("available", "reserved"):
        offer.status = "reserved" if offer.taken >= offer.capacity else "available"


def update_offer(
    actor: User,
    offer_id: uuid.UUID,
    changes: dict,
    *,
    precondition: Callable[[HousingOffer], None] | None = None,
) -> HousingOffer:
    """Change an offer under its lock, or withdraw it with ``status: withdrawn``.
    ``precondition`` (the If-Match check) sees the offer as the lock found it."""
    require_role(actor, COORDINATOR, doing=MANAGING_OFFERS)
    offer = get_offer(offer_id, for_update=True)
    if precondition is not None:
        precondition(offer)
    if offer.status in ("withdrawn", "occupied"):
        raise Conflict(
            f"This offer is {offer.status}; it no longer changes.", code="invalid_transition"
        )
    if "capacity" in changes and changes["capacity"] < offer.taken:
        raise Conflict(
            f"{offer.taken} places are held by accepted proposals; the capacity cannot be lower.",
            code="capacity_exceeded",
        )
    for field in OFFER_FIELDS:
        if field in changes:
            setattr(offer, field, changes[field])
    _check_window(offer)
    if changes.get("status") == "withdrawn":
        _withdraw_offer(offer)
    else:
        settle_status(offer)
    db.session.flush()
    offer = get_offer(offer.id)
    saw_offers([offer], via="update_offer", actor=actor)
    return offer


def _withdraw_offer(offer: HousingOffer) -> None:
    accepted = db.session.scalar(
        sa.select(sa.func.count(HousingProposal.id)).where(
            HousingProposal.offer_id == offer.id, HousingProposal.status == "accepted"
        )
    )
    if accepted:
        raise Conflict(
            "Families have accepted this offer; withdraw their proposals first.",
            code="invalid_transition",
        )
    now = utcnow()
    open_proposals = db.session.scalars(
        sa.select(HousingProposal)
        .where(
            HousingProposal.offer_id == offer.id,
            HousingProposal.status.in_(("proposed", "shown")),
        )
        .with_for_update()
    )
    for proposal in open_proposals:
        proposal.status = "withdrawn"
        proposal.decided_at = now
        proposal.reason = "The offer was withdrawn."
    offer.status = "withdrawn"


def occupy_accepted_offers(actor: User, household_ids) -> list[HousingOffer]:
    """These households arrived: the offers they accepted are occupied now (an evacuation's
    arrival, after its people and households). The offers are locked in id order (step 5
    of the lock order); an occupied offer no longer changes nor takes anyone."""
    require_role(actor, COORDINATOR, doing="record an evacuation's arrival (coordinators do)")
    if not household_ids:
        return []
    accepted = sa.select(HousingProposal.offer_id).where(
        HousingProposal.household_id.in_(set(household_ids)),
        HousingProposal.status == "accepted",
    )
    offers = db.session.scalars(
        sa.select(HousingOffer)
        .where(HousingOffer.id.in_(accepted))
        .order_by(HousingOffer.id)
        .with_for_update()
    ).all()
    for offer in offers:
        if offer.status in ("available", "reserved"):
            offer.status = "occupied"
    db.session.flush()
    return offers
