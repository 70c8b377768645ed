from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app import schema_fields as sf
from app.consents.models import BASES, DECISIONS, EVIDENCE, REVIEW_STATUSES
from app.errors import ReasonSchema
from app.web.fields import AwareDateTime
from app.web.pagination import PageArgsSchema

REVIEW_NOTE = "A few words on the review (at most 4000 characters)"


class AuthoritySchema(ma.Schema):
    """The social-services authority that decided for a child with no parent."""

    name = sf.text(
        200, "The authority, e.g. the district children's service", not_blank=True, required=True
    )
    officer_name = sf.text(200, "The officer who signed the decision", allow_none=True)
    decision_ref = sf.text(
        100, "The number of the authority's decision", not_blank=True, required=True
    )
    decision_date = fields.Date(required=True, **sf.about("The date of the decision"))


class ConsentContextSchema(ma.Schema):
    """Set by the server: what a reviewer needs to decide without another request, as of
    the day asked."""

    subject_name = fields.String(**sf.about("The full name of the person it is about"))
    subject_age = fields.Integer(**sf.about("Their age in whole years today"))
    subject_is_child = fields.Boolean(**sf.about("Under 18 today"))
    subject_dob_estimated = fields.Boolean(**sf.about("The age is an estimate"))
    household_id = fields.UUID(**sf.about("Their household"))
    household_ref = fields.String(**sf.about("Their household's short reference"))
    given_by = fields.String(
        allow_none=True,
        **sf.about(
            "Who decided: the parent's name, the authority's name, or the person's own (self)"
        ),
    )
    relationship = fields.String(
        allow_none=True, **sf.about("parental: the parent's relationship; null otherwise")
    )
    relationship_status = fields.String(
        allow_none=True,
        **sf.about(
            "parental: the link's legal status now (a parent since recorded deceased shows"
            " here); null otherwise"
        ),
    )
    recorded_by_name = fields.String(**sf.about("The full name of the user who recorded it"))
    visit_visited_at = fields.AwareDateTime(
        allow_none=True, **sf.about("When the visit it was collected on took place; null if none")
    )


class ConsentSchema(ma.Schema):
    """A consent or a refusal about one person. Never edited or deleted: it is revoked and
    a new one recorded, so every decision stays readable. An adult decides for themselves
    (`self`); for a child a parent decides (`parental`), or, when the child has no parent,
    the social services (`social_services`, recorded by coordinators)."""

    id = sf.client_id()
    subject_id = fields.UUID(
        required=True, **sf.about("The person it is about (a household member in your scope)")
    )
    basis = sf.code(
        BASES,
        "Who decides: `self` for an adult (18 or over on the day it was given), `parental` for"
        " a child with a parent, `social_services` for a child with no parent (recorded by"
        " coordinators only: 403 otherwise). A basis that does not fit the person is 422"
        " (`subject_is_child`, `subject_is_adult`, `has_parent`)",
        required=True,
    )
    decision = sf.code(
        DECISIONS, "A refusal takes effect at once; a child's grant once verified", required=True
    )
    guardianship_id = fields.UUID(
        allow_none=True,
        **sf.about(
            "parental only, and then required: the link of the parent who decided. A link"
            " that is not an active mother, father or adoptive parent is 422 `not_a_parent`"
        ),
    )
    authority = fields.Nested(
        AuthoritySchema,
        allow_none=True,
        **sf.about(
            "social_services only, and then required: who decided, decision number and date"
        ),
    )
    given_at = AwareDateTime(
        required=True,
        **sf.about(
            "When the decision was given, with offset (it may be recorded later); not in the"
            " future, not before the person's birth. Answered in UTC"
        ),
    )
    visit_id = fields.UUID(
        allow_none=True,
        **sf.about("The visit of the person's household it was collected on, if any"),
    )
    evidence = sf.code(
        EVIDENCE,
        "How the decision is documented; `witnessed_verbal` needs `witness_name`",
        required=True,
    )
    witness_name = sf.text(
        200, "Who witnessed it; required for `witnessed_verbal`", allow_none=True
    )
    valid_until = fields.Date(
        allow_none=True,
        **sf.about("Last day it holds (inclusive), not before the day it was given; null: no end"),
    )
    notes = sf.text(sf.MAX_TEXT, sf.FREE_TEXT, allow_none=True)
    review_status = sf.code(
        REVIEW_STATUSES,
        "Set by the server. A child's grant is `pending_review` until a coordinator other"
        " than its recorder `verified` or `rejected` it, and counts only once verified;"
        " refusals and adults' own decisions are `not_required` and count at once",
        dump_only=True,
    )
    recorded_by = sf.read_only(fields.UUID, "Set by the server: the user who recorded it")
    recorded_at = sf.read_only(
        fields.AwareDateTime, "Set by the server: when it was recorded (UTC)"
    )
    reviewed_by = sf.read_only_or_null(
        fields.UUID, "The coordinator who verified or rejected it; null until reviewed"
    )
    reviewed_at = sf.read_only_or_null(
        fields.AwareDateTime, "When it was reviewed; null until reviewed"
    )
    review_note = sf.read_only_or_null(fields.String, "The reviewer's note; null if none")
    revoked_at = sf.read_only_or_null(
        fields.AwareDateTime, "When it was revoked; null while it stands"
    )
    revoked_by = sf.read_only_or_null(fields.UUID, "Who revoked it; null while it stands")
    revocation_reason = sf.read_only_or_null(
        fields.String, "Why it was revoked; null while it stands"
    )
    context = fields.Nested(
        ConsentContextSchema,
        dump_only=True,
        **sf.about("Set by the server: who and what it concerns, for the review queue"),
    )


class ConsentQueryArgsSchema(PageArgsSchema):
    """Filters of the consent list; all given must hold."""

    review_status = sf.code(
        REVIEW_STATUSES,
        "Only records with this review status; `pending_review` is the coordinators' queue"
        " (revoked records left out), oldest first",
    )
    subject_id = fields.UUID(**sf.about("Only records about this person"))
    household_id = fields.UUID(**sf.about("Only records about members of this household"))
    basis = sf.code(BASES, "Only records of this basis")
    decision = sf.code(DECISIONS, "Only grants, or only refusals")


class VerifySchema(ma.Schema):
    """A coordinator verifies a child's grant; never one they recorded themselves (four
    eyes)."""

    note = sf.text(sf.MAX_TEXT, REVIEW_NOTE, allow_none=True)


class RejectSchema(ma.Schema):
    """A coordinator rejects a child's grant (the documents do not hold)."""

    note = sf.required_reason("Why it is rejected (required; at most 4000 characters)")


class RevokeSchema(ma.Schema):
    """A decision no longer stands, from now on: the record stays, marked revoked."""

    reason = sf.required_reason("Why it is revoked (required; at most 4000 characters)")


class EligibilitySchema(ma.Schema):
    """Whether a person may be evacuated now under the rule of law, and every reason why
    not. Adding the person to an evacuation and departing evaluate it again, under lock."""

    person_id = fields.UUID(required=True, **sf.about("The person evaluated"))
    is_child = fields.Boolean(required=True, **sf.about("Under 18 on the day evaluated"))
    requirement = sf.code(
        ("self_consent", "parental_consent", "social_services_authorization"),
        "What the person needs: their own consent (adult), a parent's consent (child with a"
        " parent), or a social-services authorization (child with no parent)",
        required=True,
    )
    eligible = fields.Boolean(
        required=True, **sf.about("True when the requirement is met and nothing blocks")
    )
    basis = sf.code(
        BASES,
        "The basis of the consent that meets it; null when not eligible",
        allow_none=True,
        required=True,
    )
    consent_id = fields.UUID(
        allow_none=True,
        required=True,
        **sf.about("The consent record that meets it; null when not eligible"),
    )
    reasons = fields.List(
        fields.Nested(ReasonSchema),
        required=True,
        **sf.about("Every blocking reason, with its code; empty when eligible"),
    )
    evaluated_at = fields.AwareDateTime(required=True, **sf.about("When it was evaluated (UTC)"))


# --- examples for the document (fictional people and authorities) ------------------------

PARENTAL_CONSENT_EXAMPLE = {
    "subject_id": "5b9e2c14-8f07-4d3a-b6e1-0c4f7a2d9e53",
    "basis": "parental",
    "decision": "granted",
    "guardianship_id": "e4a7d1f0-2c58-4b96-9f3e-71b0c6a8d215",
    "given_at": "2026-11-14T10:05:00+02:00",
    "visit_id": "8d2e4b7a-1f93-4c60-a5d8-2b6e9f0c3a17",
    "evidence": "signed_form",
    "witness_name": "Ivanna Dorosh",
    "valid_until": "2027-05-31",
    "notes": "The mother signed after the second visit; she wants to travel with her daughter.",
}
SOCIAL_SERVICES_AUTHORIZATION_EXAMPLE = {
    "subject_id": "a2f61c8e-3b0d-47e9-8c25-94d7e1b0f6a3",
    "basis": "social_services",
    "decision": "granted",
    "authority": {
        "name": "Riverside district children's service",
        "officer_name": "O. Marchenko",
        "decision_ref": "SS-2026-0412",
        "decision_date": "2026-11-12",
    },
    "given_at": "2026-11-12T15:30:00+02:00",
    "evidence": "authority_document",
    "notes": "Both parents recorded missing; the grandmother looks after the boy.",
}
CONSENT_EXAMPLES = {
    "parental": {
        "summary": "A mother's consent for her child, collected on a visit",
        "value": PARENTAL_CONSENT_EXAMPLE,
    },
    "social_services": {
        "summary": "A social-services authorization for a child with no parent (coordinators)",
        "value": SOCIAL_SERVICES_AUTHORIZATION_EXAMPLE,
    },
}
