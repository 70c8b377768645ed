"""Housing offers with photos, matches for a household, and proposals."""

from __future__ import annotations

import uuid
from functools import partial

from flask import current_app

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.households.service import get_household, household_scope
from app.housing import service
from app.housing.models import HousingOffer, HousingProposal
from app.housing.schemas import (
    DeclineSchema,
    HousingOfferQueryArgsSchema,
    HousingOfferSchema,
    HousingOfferUpdateSchema,
    PhotoFileSchema,
    PhotoSchema,
    PhotoUploadSchema,
    ProposalSchema,
    WithdrawSchema,
)
from app.http import (
    IDEMPOTENCY_KEY_PARAMETER,
    IF_MATCH_PARAMETER,
    Blueprint,
    EmptySchema,
    PageArgsSchema,
    Resource,
    accepts_media,
    page_of,
    paginate,
    require_if_match,
    with_etag,
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
    @blp.arguments(HousingOfferQueryArgsSchema, location="query")
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
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(HousingOfferSchema)
    @blp.response(201, HousingOfferSchema)
    def post(self, data):
        """Offer housing (coordinators)"""
        offer = service.create_offer(current_actor(), data)
        return with_etag(offer, 201, {"Location": f"/api/v1/housing-offers/{offer.id}"})


@blp.route("/housing-offers/<uuid:offer_id>")
class OfferById(Resource):
    @roles(*CASE_ROLES)
    @blp.response(200, HousingOfferSchema)
    def get(self, offer_id: uuid.UUID):
        """One housing offer with its photos"""
        return with_etag(service.read_offer(offer_id))

    @roles(COORDINATOR)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.arguments(HousingOfferUpdateSchema)
    @blp.response(200, HousingOfferSchema)
    def patch(self, changes, offer_id: uuid.UUID):
        """Change an offer, or withdraw it with {"status": "withdrawn"}"""
        offer = service.get_offer(offer_id, for_update=True)
        require_if_match(offer)
        return with_etag(service.update_offer(current_actor(), offer, changes))


@blp.route("/housing-offers/<uuid:offer_id>/photos")
class OfferPhotos(Resource):
    @roles(COORDINATOR)
    @idempotent
    @accepts_media("multipart/form-data", max_bytes_setting="PHOTO_MAX_BYTES")
    @blp.arguments(PhotoUploadSchema, location="form")
    @blp.arguments(PhotoFileSchema, location="files")
    @blp.response(201, PhotoSchema)
    @blp.alt_response(413, description="The photo or its dimensions are too large")
    @blp.alt_response(415, description="Not a JPEG, PNG or WebP image")
    def post(self, form, files, offer_id: uuid.UUID):
        """Upload a photo (multipart: file, caption); metadata such as GPS is stripped"""
        service.get_offer(offer_id)  # 404 before reading a large body
        raw = files["file"].read(current_app.config["PHOTO_MAX_BYTES"] + 1)
        photo = service.add_photo(current_actor(), offer_id, raw, form.get("caption"))
        return photo, 201, {"Location": f"/api/v1/housing-offers/{offer_id}/photos/{photo.id}"}


@blp.route("/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>")
class OfferPhoto(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(responses={"200": IMAGE_RESPONSE})
    def get(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """The photo itself, for showing a family on a tablet"""
        photo, data = service.read_photo(offer_id, photo_id)
        response = current_app.response_class(data, mimetype=photo.content_type)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @roles(COORDINATOR)
    @blp.response(204)
    def delete(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """Delete a photo"""
        service.get_offer(offer_id, for_update=True)
        service.delete_photo(current_actor(), service.get_photo(offer_id, photo_id))


@blp.route("/households/<uuid:household_id>/housing-matches")
class Matches(Resource):
    @roles(*CASE_ROLES)
    @blp.arguments(PageArgsSchema, location="query")
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
    @blp.arguments(PageArgsSchema, location="query")
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
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(ProposalSchema)
    @blp.response(201, ProposalSchema)
    def post(self, data, household_id: uuid.UUID):
        """Propose an offer to a household"""
        actor = current_actor()
        household = get_household(actor, household_id, for_update=True)
        return service.propose(actor, household, data), 201


def _proposal(proposal_id: uuid.UUID):
    return service.get_proposal(household_scope(current_actor()), proposal_id)


@blp.route("/housing-proposals/<uuid:proposal_id>/show")
class ShowProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.arguments(EmptySchema)
    @blp.response(200, ProposalSchema)
    def post(self, _data, proposal_id: uuid.UUID):
        """The family has seen the offer (photos on the tablet)"""
        return service.show_proposal(current_actor(), _proposal(proposal_id))


@blp.route("/housing-proposals/<uuid:proposal_id>/accept")
class AcceptProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.arguments(EmptySchema)
    @blp.response(200, ProposalSchema)
    def post(self, _data, proposal_id: uuid.UUID):
        """The family accepts: their present members take places (409 capacity_exceeded)"""
        return service.accept_proposal(current_actor(), _proposal(proposal_id))


@blp.route("/housing-proposals/<uuid:proposal_id>/decline")
class DeclineProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.arguments(DeclineSchema)
    @blp.response(200, ProposalSchema)
    def post(self, data, proposal_id: uuid.UUID):
        """The family declines, with the reason; accepted places are given back"""
        return service.decline_proposal(current_actor(), _proposal(proposal_id), data["reason"])


@blp.route("/housing-proposals/<uuid:proposal_id>/withdraw")
class WithdrawProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.arguments(WithdrawSchema)
    @blp.response(200, ProposalSchema)
    def post(self, data, proposal_id: uuid.UUID):
        """Withdraw a proposal; accepted places are given back"""
        return service.withdraw_proposal(
            current_actor(), _proposal(proposal_id), data.get("reason")
        )
