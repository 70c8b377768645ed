"""Consents and refusals, the coordinators' review, and the eligibility rule."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.consents import service
from app.consents.models import ConsentRecord
from app.consents.schemas import (
    CONSENT_EXAMPLES,
    ConsentQueryArgsSchema,
    ConsentSchema,
    EligibilitySchema,
    RejectSchema,
    RevokeSchema,
    VerifySchema,
)
from app.etags import set_weak_etag
from app.http import Blueprint, Resource, page_of, paginate
from app.idempotency.service import idempotent

blp = Blueprint("consents", __name__, url_prefix="/api/v1", description="Consents and eligibility")
OLDEST_FIRST = [(ConsentRecord.recorded_at, False), (ConsentRecord.id, False)]


@blp.route("/consents")
class Consents(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listConsents")
    @blp.arguments(ConsentQueryArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(ConsentSchema))
    def get(self, args):
        """Consent records, oldest first; review_status=pending_review is the review queue"""
        filters = {k: v for k, v in args.items() if k not in ("limit", "cursor")}
        items, cursor = paginate(
            service.consents_query(current_actor(), **filters),
            OLDEST_FIRST,
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_with_context,
            seen=service.saw_consents,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="recordConsent")
    @blp.arguments(ConsentSchema, examples=CONSENT_EXAMPLES)
    @blp.etag
    @blp.response(201, ConsentSchema)
    @blp.alt_response(
        422,
        description="The rule refuses who decides: `code` and `reasons` name the rule "
        "(`subject_is_child`: a parent or the social services decide for a child; "
        "`subject_is_adult`: an adult decides for themselves; `not_a_parent`: only an active "
        "mother, father or adoptive parent decides; `has_parent`: a child with a parent on "
        "record is not decided for by the social services).",
    )
    def post(self, data):
        """Record a consent or a refusal (parental, social_services or self)"""
        record = service.record_consent(current_actor(), data)
        return record, 201, {"Location": f"/api/v1/consents/{record.id}"}


@blp.route("/consents/<uuid:consent_id>")
class ConsentById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getConsent")
    @blp.etag
    @blp.response(200, ConsentSchema)
    def get(self, consent_id: uuid.UUID):
        """One consent record, with its review and revocation"""
        return service.read_consent(current_actor(), consent_id)


@blp.route("/consents/<uuid:consent_id>/verify")
class VerifyConsent(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.doc(operationId="verifyConsent")
    @blp.arguments(VerifySchema, required=False)
    @blp.etag
    @blp.response(200, ConsentSchema)
    @blp.alt_response(
        409,
        description="The decision has been revoked, or is reviewed already (`invalid_transition`).",
    )
    def post(self, data, consent_id: uuid.UUID):
        """Verify a child's grant (never one you recorded yourself)"""
        return service.verify_consent(current_actor(), consent_id, data.get("note"))


@blp.route("/consents/<uuid:consent_id>/reject")
class RejectConsent(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.doc(operationId="rejectConsent")
    @blp.arguments(RejectSchema)
    @blp.etag
    @blp.response(200, ConsentSchema)
    @blp.alt_response(
        409,
        description="The decision has been revoked, or is reviewed already (`invalid_transition`).",
    )
    def post(self, data, consent_id: uuid.UUID):
        """Reject a child's grant, with a note saying why"""
        return service.reject_consent(current_actor(), consent_id, data["note"])


@blp.route("/consents/<uuid:consent_id>/revoke")
class RevokeConsent(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="revokeConsent")
    @blp.arguments(RevokeSchema)
    @blp.etag
    @blp.response(200, ConsentSchema)
    @blp.alt_response(409, description="The decision is revoked already (`invalid_transition`).")
    def post(self, data, consent_id: uuid.UUID):
        """Revoke a decision, effective at once, with the reason"""
        return service.revoke_consent(current_actor(), consent_id, data["reason"])


@blp.route("/persons/<uuid:person_id>/eligibility")
class PersonEligibility(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getEligibility")
    @blp.etag
    @blp.response(200, EligibilitySchema)
    def get(self, person_id: uuid.UUID):
        """May this person be evacuated now? The requirement, the basis, every reason"""
        eligibility = service.read_eligibility(current_actor(), person_id)
        # evaluated_at differs on every read: a weak ETag over the rest, so 304 works
        set_weak_etag(eligibility, EligibilitySchema, exclude=("evaluated_at",))
        return eligibility
