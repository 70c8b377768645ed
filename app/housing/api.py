"""Housing offers with photos, matches for a household, and proposals."""

from __future__ import annotations

import uuid
from functools import partial

from flask import current_app

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.etags import require_if_match
from app.households.service import get_household, household_scope
from app.housing import service
from app.housing.models import HousingOffer, HousingProposal
from app.housing.schemas import (
    HOUSING_OFFER_EXAMPLE,
    DeclineSchema,
    HousingOfferQueryArgsSchema,
    HousingOfferSchema,
    HousingOfferUpdateSchema,
    PhotoSchema,
    PhotoUploadSchema,
    ProposalSchema,
    WithdrawSchema,
)
from app.http import (
    Blueprint,
    EmptySchema,
    PageArgsSchema,
    Resource,
    accepts_media,
    page_of,
    paginate,
)
from app.idempotency.service import idempotent

blp = Blueprint("housing", __name__, url_prefix="/api/v1", description="Housing and proposals")
NEWEST_FIRST = [(HousingOffer.created_at, True), (HousingOffer.id, True)]
IMAGE_RESPONSE = {
    "description": "The photo, metadata stripped",
    "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for content_type in ("image/jpeg", "image/png", "image/webp")
    },
}


@blp.route("/housing-offers")
class Offers(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listHousingOffers")
    @blp.arguments(HousingOfferQueryArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(HousingOfferSchema))
    def get(self, args):
        """Housing offers, newest first"""
        items, cursor = paginate(
            service.offers_query(status=args.get("status"), locality=args.get("locality")),
            NEWEST_FIRST,
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_offers,
            seen=service.saw_offers,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(COORDINATOR)
    @idempotent
    @blp.doc(operationId="createHousingOffer")
    @blp.arguments(HousingOfferSchema, example=HOUSING_OFFER_EXAMPLE)
    @blp.etag
    @blp.response(201, HousingOfferSchema)
    def post(self, data):
        """Offer housing (coordinators)"""
        offer = service.create_offer(current_actor(), data)
        return offer, 201, {"Location": f"/api/v1/housing-offers/{offer.id}"}


@blp.route("/housing-offers/<uuid:offer_id>")
class OfferById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getHousingOffer")
    @blp.etag
    @blp.response(200, HousingOfferSchema)
    def get(self, offer_id: uuid.UUID):
        """One housing offer with its photos"""
        return service.read_offer(offer_id)

    @roles(COORDINATOR)
    @blp.doc(operationId="updateHousingOffer")
    @blp.arguments(HousingOfferUpdateSchema)
    @blp.etag
    @blp.response(200, HousingOfferSchema)
    @blp.alt_response(
        409,
        description="The offer is withdrawn or occupied and no longer changes, or families have "
        "accepted it so it cannot be withdrawn (`invalid_transition`); or accepted proposals "
        "hold more places than the new capacity (`capacity_exceeded`).",
    )
    def patch(self, changes, offer_id: uuid.UUID):
        """Change an offer, or withdraw it with {"status": "withdrawn"}"""
        offer = service.get_offer(offer_id, for_update=True)
        require_if_match(offer, HousingOfferSchema)
        return service.update_offer(current_actor(), offer, changes)


@blp.route("/housing-offers/<uuid:offer_id>/photos")
class OfferPhotos(Resource):
    @roles(COORDINATOR)
    @blp.doc(operationId="uploadOfferPhoto")
    @idempotent
    @accepts_media("multipart/form-data", max_bytes_setting="PHOTO_MAX_BYTES")
    @blp.arguments(PhotoUploadSchema, location="multipart")
    @blp.etag
    @blp.response(201, PhotoSchema)
    @blp.alt_response(409, description="The offer is withdrawn (`invalid_transition`).")
    @blp.alt_response(
        413,
        description="The photo is larger than PHOTO_MAX_BYTES, or its dimensions are too large "
        "(`image_too_large`).",
    )
    @blp.alt_response(
        415,
        description="Not a JPEG, PNG or WebP image, or a damaged one (`unsupported_image`).",
    )
    def post(self, upload, offer_id: uuid.UUID):
        """Upload a photo (multipart: file, caption); metadata such as GPS is stripped"""
        service.get_offer(offer_id)  # 404 before reading a large body
        raw = upload["file"].read(current_app.config["PHOTO_MAX_BYTES"] + 1)
        photo = service.add_photo(current_actor(), offer_id, raw, upload.get("caption"))
        return photo, 201, {"Location": f"/api/v1/housing-offers/{offer_id}/photos/{photo.id}"}


@blp.route("/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>")
class OfferPhoto(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="downloadOfferPhoto")
    @blp.doc(responses={"200": IMAGE_RESPONSE})
    def get(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """The photo itself, for showing a family on a tablet"""
        photo, data = service.read_photo(offer_id, photo_id)
        response = current_app.response_class(data, mimetype=photo.content_type)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @roles(COORDINATOR)
    @blp.doc(operationId="deleteOfferPhoto")
    @blp.response(204)
    def delete(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """Delete a photo"""
        service.get_offer(offer_id, for_update=True)
        service.delete_photo(current_actor(), service.get_photo(offer_id, photo_id))


@blp.route("/households/<uuid:household_id>/housing-matches")
class Matches(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listHousingMatches")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(HousingOfferSchema))
    def get(self, args, household_id: uuid.UUID):
        """Available offers that fit the household, best first"""
        household = get_household(current_actor(), household_id)
        items, cursor = paginate(
            service.matches_query(household),
            service.BEST_FIRST,
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_offers,
            seen=partial(service.saw_matches, household),
        )
        return {"items": items, "next_cursor": cursor}


@blp.route("/households/<uuid:household_id>/housing-proposals")
class Proposals(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listHousingProposals")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(ProposalSchema))
    def get(self, args, household_id: uuid.UUID):
        """The offers proposed to a household"""
        household = get_household(current_actor(), household_id)
        items, cursor = paginate(
            service.proposals_query(household),
            [(HousingProposal.created_at, False), (HousingProposal.id, False)],
            limit=args["limit"],
            cursor=args["cursor"],
            seen=service.saw_proposals,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="proposeHousing")
    @blp.arguments(ProposalSchema)
    @blp.etag
    @blp.response(201, ProposalSchema)
    @blp.alt_response(
        409,
        description="The offer is not available (`offer_unavailable`), or is proposed to the "
        "household already (`duplicate`).",
    )
    def post(self, data, household_id: uuid.UUID):
        """Propose an offer to a household"""
        actor = current_actor()
        household = get_household(actor, household_id, for_update=True)
        proposal = service.propose(actor, household, data)
        # a proposal has no page of its own: the household's list of them
        return proposal, 201, {"Location": f"/api/v1/households/{household_id}/housing-proposals"}


def _proposal(proposal_id: uuid.UUID):
    return service.get_proposal(household_scope(current_actor()), proposal_id)


@blp.route("/housing-proposals/<uuid:proposal_id>/show")
class ShowProposal(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="showProposal")
    @idempotent
    @blp.arguments(EmptySchema, required=False)
    @blp.etag
    @blp.response(200, ProposalSchema)
    @blp.alt_response(
        409,
        description="The proposal is no longer `proposed` (`invalid_transition`).",
    )
    def post(self, _data, proposal_id: uuid.UUID):
        """The family has seen the offer (photos on the tablet)"""
        return service.show_proposal(current_actor(), _proposal(proposal_id))


@blp.route("/housing-proposals/<uuid:proposal_id>/accept")
class AcceptProposal(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="acceptProposal")
    @idempotent
    @blp.arguments(EmptySchema, required=False)
    @blp.etag
    @blp.response(200, ProposalSchema)
    @blp.alt_response(
        409,
        description="The proposal can no longer be accepted, the household has accepted another "
        "offer, or nobody in it is present (`invalid_transition`); the offer is not available "
        "(`offer_unavailable`); or it has fewer free places than the household has present "
        "members (`capacity_exceeded`).",
    )
    def post(self, _data, proposal_id: uuid.UUID):
        """The family accepts: their present members take places (409 capacity_exceeded)"""
        return service.accept_proposal(current_actor(), _proposal(proposal_id))


@blp.route("/housing-proposals/<uuid:proposal_id>/decline")
class DeclineProposal(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="declineProposal")
    @idempotent
    @blp.arguments(DeclineSchema)
    @blp.etag
    @blp.response(200, ProposalSchema)
    @blp.alt_response(
        409,
        description="The proposal is declined or withdrawn already (`invalid_transition`).",
    )
    def post(self, data, proposal_id: uuid.UUID):
        """The family declines, with the reason; accepted places are given back"""
        return service.decline_proposal(current_actor(), _proposal(proposal_id), data["reason"])


@blp.route("/housing-proposals/<uuid:proposal_id>/withdraw")
class WithdrawProposal(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="withdrawProposal")
    @idempotent
    @blp.arguments(WithdrawSchema, required=False)
    @blp.etag
    @blp.response(200, ProposalSchema)
    @blp.alt_response(
        409,
        description="The proposal is declined or withdrawn already (`invalid_transition`).",
    )
    def post(self, data, proposal_id: uuid.UUID):
        """Withdraw a proposal; accepted places are given back"""
        return service.withdraw_proposal(
            current_actor(), _proposal(proposal_id), data.get("reason")
        )
