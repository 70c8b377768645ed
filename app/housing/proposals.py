"""Proposing housing to a household: made, shown, accepted, declined or withdrawn.

Field workers propose offers to their own team's households, coordinators to any. Each
function takes ids, loads within its actor's scope and takes its locks itself: the
household, then the offer, then its proposals; an accepted proposal holds places on its
offer, given back when it is declined or withdrawn. Functions flush; the request commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import User
from app.auth.permissions import CASE_ROLES, require_role, require_team
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.households.models import Household, Person
from app.households.scope import get_household, household_scope, lock_household
from app.housing.models import HousingOffer, HousingProposal
from app.housing.service import get_offer, settle_status
from app.web.pagination import page

#: What a role that may not touch proposals may not do (403 ``role_forbidden``).
PROPOSING = "propose housing to a household"
#: A household's proposals in the order they were made.
OLDEST_FIRST = [(HousingProposal.created_at, False), (HousingProposal.id, False)]


def list_proposals(actor: User, household_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of the offers proposed to a household, loaded within the actor's scope (404
    outside it); the household counts as looked at."""
    household = get_household(actor, household_id)
    stmt = sa.select(HousingProposal).where(HousingProposal.household_id == household.id)
    return page(stmt, OLDEST_FIRST, args, seen=saw_proposals)


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


def propose(actor: User, household_id: uuid.UUID, data: dict) -> HousingProposal:
    """Propose an offer to a household, under the household's lock (404 outside scope)."""
    household = lock_household(actor, household_id, doing=PROPOSING)
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


def _locked_proposal(actor: User, proposal_id: uuid.UUID) -> HousingProposal:
    """A proposal of a household in ``actor``'s scope, locked for its transition: 403 for a
    role that proposes nothing, 404 outside the scope (another team's household).

    Locks are taken household, offer, proposal: the household so it never holds two
    accepted proposals, and the offer before the proposal as withdrawing an offer does
    (offer, then its proposals), so the two wait for each other instead of deadlocking.
    """
    require_role(actor, *CASE_ROLES, doing=PROPOSING)
    keys = db.session.execute(
        sa.select(HousingProposal.household_id, HousingProposal.offer_id)
        .join(Household, Household.id == HousingProposal.household_id)
        .where(HousingProposal.id == proposal_id, household_scope(actor))
    ).one_or_none()
    if keys is None:
        raise NotFound("No such housing proposal.")
    team_id = db.session.scalar(
        sa.select(Household.team_id).where(Household.id == keys.household_id).with_for_update()
    )
    # the household's team, under its lock: still the actor's
    require_team(actor, team_id, what="housing proposal")
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


def show_proposal(actor: User, proposal_id: uuid.UUID) -> HousingProposal:
    proposal = _locked_proposal(actor, proposal_id)
    _transition(proposal, ("proposed",), "shown")
    proposal.status = "shown"
    db.session.flush()
    return _shown(actor, proposal, "show_proposal")


def accept_proposal(actor: User, proposal_id: uuid.UUID) -> HousingProposal:
    """The family accepts: their present members take places on the offer, under its lock."""
    proposal = _locked_proposal(actor, proposal_id)
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
    settle_status(offer)
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
    settle_status(offer)
    proposal.places = None


def decline_proposal(actor: User, proposal_id: uuid.UUID, reason: str) -> HousingProposal:
    proposal = _locked_proposal(actor, proposal_id)
    _transition(proposal, ("proposed", "shown", "accepted"), "declined")
    _give_back_places(proposal)
    proposal.status = "declined"
    proposal.reason = reason
    proposal.decided_at = utcnow()
    db.session.flush()
    return _shown(actor, proposal, "decline_proposal")


def withdraw_proposal(actor: User, proposal_id: uuid.UUID, reason: str | None) -> HousingProposal:
    proposal = _locked_proposal(actor, proposal_id)
    _transition(proposal, ("proposed", "shown", "accepted"), "withdrawn")
    _give_back_places(proposal)
    proposal.status = "withdrawn"
    proposal.reason = reason
    proposal.decided_at = utcnow()
    db.session.flush()
    return _shown(actor, proposal, "withdraw_proposal")
