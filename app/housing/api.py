"""Housing offers with photos, matches for a household, and proposals."""

from __future__ import annotations

import uuid

from flask import current_app

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.housing import matching, photos, proposals, service
from app.housing.models import HousingOffer
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
from app.idempotency.service import idempotent
from app.web.blueprint import Blueprint
from app.web.fields import EmptySchema
from app.web.media import accepts_media
from app.web.pagination import page
from app.web.resource import Resource, created, if_match

blp = Blueprint("housing", __name__, url_prefix="/api/v1", description="Housing and proposals")
NEWEST_FIRST = [(HousingOffer.created_at, True), (HousingOffer.id, True)]
#: When a proposal's decline or withdrawal answers 409.
ENDED_ALREADY = "The proposal is declined or withdrawn already (`invalid_transition`)."
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
    @blp.paged("listHousingOffers", HousingOfferSchema, args=HousingOfferQueryArgsSchema)
    def get(self, args):
        """Housing offers, newest first"""
        stmt = service.offers_query(status=args.get("status"), locality=args.get("locality"))
        return page(stmt, NEWEST_FIRST, args, load=service.load_offers, seen=service.saw_offers)

    @roles(COORDINATOR)
    @idempotent
    @blp.operation(
        "createHousingOffer",
        HousingOfferSchema,
        status=201,
        body=HousingOfferSchema,
        example=HOUSING_OFFER_EXAMPLE,
    )
    def post(self, data):
        """Offer housing (coordinators)"""
        return created(service.create_offer(current_actor(), data), ".OfferById")


@blp.route("/housing-offers/<uuid:offer_id>")
class OfferById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getHousingOffer", HousingOfferSchema)
    def get(self, offer_id: uuid.UUID):
        """One housing offer with its photos"""
        return service.read_offer(offer_id)

    @roles(COORDINATOR)
    @blp.operation(
        "updateHousingOffer",
        HousingOfferSchema,
        body=HousingOfferUpdateSchema,
        refusals={
            409: "The offer is withdrawn or occupied and no longer changes, or families have "
            "accepted it so it cannot be withdrawn (`invalid_transition`); or accepted "
            "proposals hold more places than the new capacity (`capacity_exceeded`)."
        },
    )
    def patch(self, changes, offer_id: uuid.UUID):
        """Change an offer, or withdraw it with {"status": "withdrawn"}"""
        return service.update_offer(
            current_actor(), offer_id, changes, precondition=if_match(HousingOfferSchema)
        )


@blp.route("/housing-offers/<uuid:offer_id>/photos")
class OfferPhotos(Resource):
    @roles(COORDINATOR)
    @idempotent
    @accepts_media("multipart/form-data", max_bytes_setting="PHOTO_MAX_BYTES")
    @blp.operation(
        "uploadOfferPhoto",
        PhotoSchema,
        status=201,
        body=PhotoUploadSchema,
        location="multipart",
        refusals={
            409: "The offer is withdrawn (`invalid_transition`).",
            413: "The photo is larger than PHOTO_MAX_BYTES, or its dimensions are too large "
            "(`image_too_large`).",
            415: "Not a JPEG, PNG or WebP image, or a damaged one (`unsupported_image`).",
        },
    )
    def post(self, upload, offer_id: uuid.UUID):
        """Upload a photo (multipart: file, caption); metadata such as GPS is stripped"""
        photos.check_offer_before_upload(offer_id)  # 404 before reading a large body
        raw = upload["file"].read(current_app.config["PHOTO_MAX_BYTES"] + 1)
        photo = photos.add_photo(current_actor(), offer_id, raw, upload.get("caption"))
        return created(photo, ".OfferPhoto")


@blp.route("/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>")
class OfferPhoto(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="downloadOfferPhoto", responses={"200": IMAGE_RESPONSE})
    def get(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """The photo itself, for showing a family on a tablet"""
        photo, data = photos.read_photo(offer_id, photo_id)
        response = current_app.response_class(data, mimetype=photo.content_type)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @roles(COORDINATOR)
    @blp.operation("deleteOfferPhoto", status=204, etag=False)
    def delete(self, offer_id: uuid.UUID, photo_id: uuid.UUID):
        """Delete a photo"""
        photos.delete_photo(current_actor(), offer_id, photo_id)


@blp.route("/households/<uuid:household_id>/housing-matches")
class Matches(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listHousingMatches", HousingOfferSchema)
    def get(self, args, household_id: uuid.UUID):
        """Available offers that fit the household, best first"""
        return matching.list_matches(current_actor(), household_id, args)


@blp.route("/households/<uuid:household_id>/housing-proposals")
class Proposals(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listHousingProposals", ProposalSchema)
    def get(self, args, household_id: uuid.UUID):
        """The offers proposed to a household"""
        return proposals.list_proposals(current_actor(), household_id, args)

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "proposeHousing",
        ProposalSchema,
        status=201,
        body=ProposalSchema,
        refusals={
            409: "The offer is not available (`offer_unavailable`), or is proposed to the "
            "household already (`duplicate`)."
        },
    )
    def post(self, data, household_id: uuid.UUID):
        """Propose an offer to a household"""
        proposal = proposals.propose(current_actor(), household_id, data)
        # a proposal has no page of its own: the household's list of them
        return created(proposal, ".Proposals")


@blp.route("/housing-proposals/<uuid:proposal_id>/show")
class ShowProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "showProposal",
        ProposalSchema,
        body=EmptySchema,
        required=False,
        refusals={409: "The proposal is no longer `proposed` (`invalid_transition`)."},
    )
    def post(self, _data, proposal_id: uuid.UUID):
        """The family has seen the offer (photos on the tablet)"""
        return proposals.show_proposal(current_actor(), proposal_id)


@blp.route("/housing-proposals/<uuid:proposal_id>/accept")
class AcceptProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "acceptProposal",
        ProposalSchema,
        body=EmptySchema,
        required=False,
        refusals={
            409: "The proposal can no longer be accepted, the household has accepted another "
            "offer, or nobody in it is present (`invalid_transition`); the offer is not "
            "available (`offer_unavailable`); or it has fewer free places than the household "
            "has present members (`capacity_exceeded`)."
        },
    )
    def post(self, _data, proposal_id: uuid.UUID):
        """The family accepts: their present members take places (409 capacity_exceeded)"""
        return proposals.accept_proposal(current_actor(), proposal_id)


@blp.route("/housing-proposals/<uuid:proposal_id>/decline")
class DeclineProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "declineProposal", ProposalSchema, body=DeclineSchema, refusals={409: ENDED_ALREADY}
    )
    def post(self, data, proposal_id: uuid.UUID):
        """The family declines, with the reason; accepted places are given back"""
        return proposals.decline_proposal(current_actor(), proposal_id, data["reason"])


@blp.route("/housing-proposals/<uuid:proposal_id>/withdraw")
class WithdrawProposal(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "withdrawProposal",
        ProposalSchema,
        body=WithdrawSchema,
        required=False,
        refusals={409: ENDED_ALREADY},
    )
    def post(self, data, proposal_id: uuid.UUID):
        """Withdraw a proposal; accepted places are given back"""
        return proposals.withdraw_proposal(current_actor(), proposal_id, data.get("reason"))
