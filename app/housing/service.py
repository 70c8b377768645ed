"""Housing offers, their photos, matching offers to households, and proposals.

An offer's places are taken and given back only under its row lock, so two households can
never take the last place. Identical photos share one file, kept while any photo uses it:
writing it for a new photo and removing it when the last photo goes both happen under the
lock of its ``photo_blobs`` row. Every function that changes something checks its actor
(DESIGN §2): coordinators manage offers and their photos; field workers propose and show
offers to their own team's households. Functions flush; the request commits.
"""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session, selectinload

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import CASE_ROLES, require_role, require_team
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db, on_commit
from app.households.models import Household, Person
from app.housing import photos
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal, PhotoBlob

log = logging.getLogger(__name__)
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
#: Needing help to walk means needing a step-free home.
NEEDS_STEP_FREE = ("walks_with_help", "cannot_walk")


# --- offers ------------------------------------------------------------------------------


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


def _require_offer_manager(actor: User) -> None:
    require_role(actor, COORDINATOR, doing="manage housing offers or their photos")


def create_offer(actor: User, data: dict) -> HousingOffer:
    _require_offer_manager(actor)
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


def _settle_status(offer: HousingOffer) -> None:
    """A full offer is reserved; one with room again is available."""
    if offer.status in ("available", "reserved"):
        offer.status = "reserved" if offer.taken >= offer.capacity else "available"


def update_offer(actor: User, offer: HousingOffer, changes: dict) -> HousingOffer:
    """Change an offer (locked by the caller), or withdraw it with ``status: withdrawn``."""
    _require_offer_manager(actor)
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
        _settle_status(offer)
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


# --- photos ------------------------------------------------------------------------------


def lock_blob(
    executor: Session | scoped_session | sa.Connection, sha256: str, content_type: str
) -> None:
    """Make sure the file's ``photo_blobs`` row exists, and lock it until the transaction ends.

    One statement, so there is no moment between "it exists" and "it is locked": an upsert
    inserts the row or updates (and so locks) the one there; on PostgreSQL it waits for a
    transaction that is inserting or deleting the same row, then does the other thing.
    """
    dialect = (
        executor.dialect if isinstance(executor, sa.Connection) else executor.get_bind().dialect
    )
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(PhotoBlob).values(sha256=sha256, content_type=content_type, created_at=utcnow())
    executor.execute(
        stmt.on_conflict_do_update(
            index_elements=[PhotoBlob.sha256],
            set_={"content_type": stmt.excluded.content_type},
        )
    )


def release_blob(sha256: str, content_type: str) -> bool:
    """After a photo's row is gone (committed): remove its file if no photo uses it any more.

    Runs in a transaction of its own, under the blob's lock, which an upload of the same
    bytes also holds from writing (or re-writing) the file until its photo row commits. So
    either the upload comes first, and its row is seen here and the file kept, or this comes
    first, and the upload finds the file gone and writes it again. The file is removed
    before this commits, while the lock is held. True when the file was removed.
    """
    try:
        with db.engine.begin() as connection:
            lock_blob(connection, sha256, content_type)
            used = connection.scalar(
                sa.select(HousingPhoto.id).where(HousingPhoto.sha256 == sha256).limit(1)
            )
            if used is not None:
                return False
            connection.execute(sa.delete(PhotoBlob).where(PhotoBlob.sha256 == sha256))
            photos.remove(sha256, content_type)
            return True
    except (SQLAlchemyError, OSError):
        # the photo is gone either way; at worst an unused file stays behind, never a used
        # one is lost: the next upload or removal of these bytes settles it
        log.exception("photo file %s: could not decide whether to remove it", sha256)
        return False


def add_photo(actor: User, offer_id: uuid.UUID, raw: bytes, caption: str | None) -> HousingPhoto:
    """Clean the image first (slow, no lock held), then attach it under the offer's lock.

    The file is written, or written again if it went missing, under its blob's lock, which
    is held until this photo's row commits (see ``release_blob``).
    """
    _require_offer_manager(actor)
    image = photos.clean_image(raw)
    offer = get_offer(offer_id, for_update=True)
    if offer.status == "withdrawn":
        raise Conflict("This offer is withdrawn.", code="invalid_transition")
    lock_blob(db.session, image.sha256, image.content_type)
    photos.store(image)
    photo = HousingPhoto(
        offer_id=offer.id,
        sha256=image.sha256,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=len(image.data),
        caption=caption,
        uploaded_by=actor.id,
    )
    db.session.add(photo)
    db.session.flush()
    # the answer shows its caption
    audit.record_read("housing_photos", [photo.id], actor_id=actor.id, via="add_photo")
    return photo


def get_photo(offer_id: uuid.UUID, photo_id: uuid.UUID) -> HousingPhoto:
    photo = db.session.scalar(
        sa.select(HousingPhoto).where(
            HousingPhoto.id == photo_id, HousingPhoto.offer_id == offer_id
        )
    )
    if photo is None:
        raise NotFound("No such photo.")
    return photo


def read_photo(offer_id: uuid.UUID, photo_id: uuid.UUID) -> tuple[HousingPhoto, bytes]:
    """A photo and its bytes, as staff look at it (the look is audited, never the bytes)."""
    photo = get_photo(offer_id, photo_id)
    data = photos.read(photo.sha256, photo.content_type)
    if data is None:
        log.error("photo %s: its file %s is missing from the upload folder", photo.id, photo.sha256)
        raise NotFound("The photo's file is missing; upload it again.")
    audit.record_read("housing_photos", [photo.id], offer_id=str(offer_id))
    return photo, data


def delete_photo(actor: User, photo: HousingPhoto) -> None:
    """Forget the photo; once that commits, its file goes if no photo uses it any more.

    Whether another photo uses it is decided after the commit, under the blob's lock
    (``release_blob``): a look now would miss an upload of the same bytes not yet committed.
    """
    _require_offer_manager(actor)
    db.session.delete(photo)
    db.session.flush()
    sha256, content_type = photo.sha256, photo.content_type
    on_commit(lambda: release_blob(sha256, content_type))


# --- matching ----------------------------------------------------------------------------


def matches_query(household: Household) -> sa.Select:
    """Available offers that fit the household's present members and needs."""
    present = (
        db.session.execute(
            sa.select(Person.mobility).where(
                Person.household_id == household.id, Person.status == "present"
            )
        )
        .scalars()
        .all()
    )
    today = utcnow().date()
    stmt = sa.select(HousingOffer).where(
        HousingOffer.status == "available",
        HousingOffer.free_capacity >= max(len(present), 1),
        sa.or_(HousingOffer.available_until.is_(None), HousingOffer.available_until >= today),
    )
    if any(mobility in NEEDS_STEP_FREE for mobility in present):
        stmt = stmt.where(HousingOffer.step_free.is_(True))
    if "rent_money" in (household.needs or []):
        stmt = stmt.where(HousingOffer.monthly_rent == 0)
    if "pets" in (household.needs or []):
        stmt = stmt.where(HousingOffer.pets_allowed.is_(True))
    return stmt


def saw_matches(household: Household, offers: list[HousingOffer]) -> None:
    """Offers matched to a household were shown: the household (whose needs and people
    chose them) and each offer count as looked at."""
    if not offers:
        return
    audit.record_read("households", [household.id], via="housing_matches")
    saw_offers(offers, via="housing_matches")


#: The best match leaves the fewest places empty, then costs least.
BEST_FIRST = [
    (HousingOffer.free_capacity, False),
    (HousingOffer.monthly_rent, False),
    (HousingOffer.id, False),
]


# --- proposals ---------------------------------------------------------------------------


def proposals_query(household: Household) -> sa.Select:
    return sa.select(HousingProposal).where(HousingProposal.household_id == household.id)


def _require_proposal_access(actor: User, household_id: uuid.UUID) -> None:
    """Field workers of the household's team and coordinators; 404 for another team."""
    require_role(actor, *CASE_ROLES, doing="propose housing to a household")
    household = db.session.get(Household, household_id)  # locked by the caller already
    require_team(actor, household.team_id if household else None, what="household")


def saw_proposals(
    proposals: list[HousingProposal], via: str = "housing_proposals", actor: User | None = None
) -> None:
    """Proposals were shown (a page of them, or one a step answers with): the household
    each is for counts as looked at (its notes are about the family)."""
    audit.record_read(
        "households",
        [proposal.household_id for proposal in proposals],
        actor_id=actor.id if actor else None,
        via=via,
    )


def _shown(actor: User, proposal: HousingProposal, via: str) -> HousingProposal:
    saw_proposals([proposal], via=via, actor=actor)
    return proposal


def propose(actor: User, household: Household, data: dict) -> HousingProposal:
    _require_proposal_access(actor, household.id)
    offer = db.session.get(HousingOffer, data["offer_id"])
    if offer is None:
        raise Invalid({"offer_id": ["No such housing offer."]})
    if offer.status != "available":
        raise Conflict(f"This offer is {offer.status}.", code="offer_unavailable")
    open_one = db.session.scalar(
        sa.select(HousingProposal.id).where(
            HousingProposal.household_id == household.id,
            HousingProposal.offer_id == offer.id,
            HousingProposal.status.in_(("proposed", "shown", "accepted")),
        )
    )
    if open_one is not None:
        raise Conflict("This offer is already proposed to the household.", code="duplicate")
    proposal = HousingProposal(
        id=ensure_new_id(HousingProposal, data.get("id")),
        household_id=household.id,
        offer_id=offer.id,
        notes=data.get("notes"),
        proposed_by=actor.id,
    )
    db.session.add(proposal)
    db.session.flush()
    return _shown(actor, proposal, "propose")


def get_proposal(scope: sa.ColumnElement[bool], proposal_id: uuid.UUID) -> HousingProposal:
    """A proposal of a household within ``scope``, locked for its transition.

    Locks are taken household, offer, proposal: the household so it never holds two
    accepted proposals, and the offer before the proposal as withdrawing an offer does
    (offer, then its proposals), so the two wait for each other instead of deadlocking.
    """
    keys = db.session.execute(
        sa.select(HousingProposal.household_id, HousingProposal.offer_id)
        .join(Household, Household.id == HousingProposal.household_id)
        .where(HousingProposal.id == proposal_id, scope)
    ).one_or_none()
    if keys is None:
        raise NotFound("No such housing proposal.")
    db.session.execute(
        sa.select(Household.id).where(Household.id == keys.household_id).with_for_update()
    )
    get_offer(keys.offer_id, for_update=True)
    return db.session.scalars(
        sa.select(HousingProposal)
        .where(HousingProposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _transition(proposal: HousingProposal, allowed: tuple[str, ...], to: str) -> None:
    if proposal.status not in allowed:
        raise Conflict(
            f"A {proposal.status} proposal cannot become {to}.", code="invalid_transition"
        )


def show_proposal(actor: User, proposal: HousingProposal) -> HousingProposal:
    _require_proposal_access(actor, proposal.household_id)
    _transition(proposal, ("proposed",), "shown")
    proposal.status = "shown"
    db.session.flush()
    return _shown(actor, proposal, "show_proposal")


def accept_proposal(actor: User, proposal: HousingProposal) -> HousingProposal:
    """The family accepts: their present members take places on the offer, under its lock."""
    _require_proposal_access(actor, proposal.household_id)
    _transition(proposal, ("proposed", "shown"), "accepted")
    offer = get_offer(proposal.offer_id, for_update=True)
    if offer.status not in ("available", "reserved"):
        raise Conflict(f"This offer is {offer.status}.", code="offer_unavailable")
    other = db.session.scalar(
        sa.select(HousingProposal.id).where(
            HousingProposal.household_id == proposal.household_id,
            HousingProposal.status == "accepted",
        )
    )
    if other is not None:
        raise Conflict(
            "The household has accepted another offer; withdraw that one first.",
            code="invalid_transition",
        )
    places = db.session.scalar(
        sa.select(sa.func.count(Person.id)).where(
            Person.household_id == proposal.household_id, Person.status == "present"
        )
    )
    if not places:
        raise Conflict(
            "Nobody in the household is present to be housed.", code="invalid_transition"
        )
    if offer.capacity - offer.taken < places:
        raise Conflict(
            f"The offer has {offer.capacity - offer.taken} free places; the household needs "
            f"{places}.",
            code="capacity_exceeded",
        )
    offer.taken += places
    _settle_status(offer)
    proposal.status = "accepted"
    proposal.places = places
    proposal.decided_at = utcnow()
    db.session.flush()
    return _shown(actor, proposal, "accept_proposal")


def _give_back_places(proposal: HousingProposal) -> None:
    if proposal.status != "accepted":
        return
    offer = get_offer(proposal.offer_id, for_update=True)
    offer.taken -= proposal.places or 0
    _settle_status(offer)
    proposal.places = None


def decline_proposal(actor: User, proposal: HousingProposal, reason: str) -> HousingProposal:
    _require_proposal_access(actor, proposal.household_id)
    _transition(proposal, ("proposed", "shown", "accepted"), "declined")
    _give_back_places(proposal)
    proposal.status = "declined"
    proposal.reason = reason
    proposal.decided_at = utcnow()
    db.session.flush()
    return _shown(actor, proposal, "decline_proposal")


def withdraw_proposal(
    actor: User, proposal: HousingProposal, reason: str | None
) -> HousingProposal:
    _require_proposal_access(actor, proposal.household_id)
    _transition(proposal, ("proposed", "shown", "accepted"), "withdrawn")
    _give_back_places(proposal)
    proposal.status = "withdrawn"
    proposal.reason = reason
    proposal.decided_at = utcnow()
    db.session.flush()
    return _shown(actor, proposal, "withdraw_proposal")
