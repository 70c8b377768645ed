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
from app.idempotency.service import idempotent
from app.web.blueprint import Blueprint
from app.web.pagination import filters, page
from app.web.resource import Resource, created

blp = Blueprint("consents", __name__, url_prefix="/api/v1", description="Consents and eligibility")
OLDEST_FIRST = [(ConsentRecord.recorded_at, False), (ConsentRecord.id, False)]
#: When a review (verify, reject) answers 409.
REVIEWED_ALREADY = "The decision has been revoked, or is reviewed already (`invalid_transition`)."


@blp.route("/consents")
class Consents(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listConsents", ConsentSchema, args=ConsentQueryArgsSchema)
    def get(self, args):
        """Consent records, oldest first; review_status=pending_review is the review queue"""
        return page(
            service.consents_query(current_actor(), **filters(args)),
            OLDEST_FIRST,
            args,
            load=service.load_with_context,
            seen=service.saw_consents,
        )

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "recordConsent",
        ConsentSchema,
        status=201,
        body=ConsentSchema,
        examples=CONSENT_EXAMPLES,
        refusals={
            422: "The rule refuses who decides: `code` and `reasons` name the rule "
            "(`subject_is_child`: a parent or the social services decide for a child; "
            "`subject_is_adult`: an adult decides for themselves; `not_a_parent`: only an "
            "active mother, father or adoptive parent decides; `has_parent`: a child with a "
            "parent on record is not decided for by the social services)."
        },
    )
    def post(self, data):
        """Record a consent or a refusal (parental, social_services or self)"""
        return created(service.record_consent(current_actor(), data), ".ConsentById")


@blp.route("/consents/<uuid:consent_id>")
class ConsentById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getConsent", ConsentSchema)
    def get(self, consent_id: uuid.UUID):
        """One consent record, with its review and revocation"""
        return service.read_consent(current_actor(), consent_id)


@blp.route("/consents/<uuid:consent_id>/verify")
class VerifyConsent(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.operation(
        "verifyConsent",
        ConsentSchema,
        body=VerifySchema,
        required=False,
        refusals={409: REVIEWED_ALREADY},
    )
    def post(self, data, consent_id: uuid.UUID):
        """Verify a child's grant (never one you recorded yourself)"""
        return service.verify_consent(current_actor(), consent_id, data.get("note"))


@blp.route("/consents/<uuid:consent_id>/reject")
class RejectConsent(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.operation(
        "rejectConsent", ConsentSchema, body=RejectSchema, refusals={409: REVIEWED_ALREADY}
    )
    def post(self, data, consent_id: uuid.UUID):
        """Reject a child's grant, with a note saying why"""
        return service.reject_consent(current_actor(), consent_id, data["note"])


@blp.route("/consents/<uuid:consent_id>/revoke")
class RevokeConsent(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "revokeConsent",
        ConsentSchema,
        body=RevokeSchema,
        refusals={409: "The decision is revoked already (`invalid_transition`)."},
    )
    def post(self, data, consent_id: uuid.UUID):
        """Revoke a decision, effective at once, with the reason"""
        return service.revoke_consent(current_actor(), consent_id, data["reason"])


@blp.route("/persons/<uuid:person_id>/eligibility")
class PersonEligibility(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getEligibility", EligibilitySchema)
    def get(self, person_id: uuid.UUID):
        """May this person be evacuated now? The requirement, the basis, every reason"""
        eligibility = service.read_eligibility(current_actor(), person_id)
        # evaluated_at differs on every read: a weak ETag over the rest, so 304 works
        set_weak_etag(eligibility, EligibilitySchema, exclude=("evaluated_at",))
        return eligibility
