from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.consents.models import BASES, DECISIONS, EVIDENCE, REVIEW_STATUSES
from app.errors import ReasonSchema
from app.http import CLIENT_ID_DESCRIPTION, NOT_BLANK, AwareDateTime, PageArgsSchema


def _about(description: str) -> dict:
    return {"metadata": {"description": description}}


REVIEW_NOTE = "A few words on the review (at most 4000 characters)"


class AuthoritySchema(ma.Schema):
    """The social-services authority that decided for a child with no parent."""

    name = fields.String(
        required=True,
        validate=[validate.Length(max=200), NOT_BLANK],
        **_about("The authority, e.g. the district children's service"),
    )
    officer_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        **_about("The officer who signed the decision"),
    )
    decision_ref = fields.String(
        required=True,
        validate=[validate.Length(max=100), NOT_BLANK],
        **_about("The number of the authority's decision"),
    )
    decision_date = fields.Date(required=True, **_about("The date of the decision"))


class ConsentContextSchema(ma.Schema):
    """Set by the server: what a reviewer needs to decide without another request, as of
    the day asked."""

    subject_name = fields.String(**_about("The full name of the person it is about"))
    subject_age = fields.Integer(**_about("Their age in whole years today"))
    subject_is_child = fields.Boolean(**_about("Under 18 today"))
    subject_dob_estimated = fields.Boolean(metadata={"description": "The age is an estimate"})
    household_id = fields.UUID(**_about("Their household"))
    household_ref = fields.String(**_about("Their household's short reference"))
    given_by = fields.String(
        allow_none=True,
        metadata={
            "description": "Who decided: the parent's name, the authority's name, or the"
            " person's own (self)"
        },
    )
    relationship = fields.String(
        allow_none=True,
        metadata={"description": "parental: the parent's relationship; null otherwise"},
    )
    relationship_status = fields.String(
        allow_none=True,
        metadata={
            "description": "parental: the link's legal status now (a parent since recorded"
            " deceased shows here); null otherwise"
        },
    )
    recorded_by_name = fields.String(**_about("The full name of the user who recorded it"))
    visit_visited_at = fields.AwareDateTime(
        allow_none=True, **_about("When the visit it was collected on took place; null if none")
    )


class ConsentSchema(ma.Schema):
    """A consent or a refusal about one person. Never edited or deleted: it is revoked and
    a new one recorded, so every decision stays readable. An adult decides for themselves
    (`self`); for a child a parent decides (`parental`), or, when the child has no parent,
    the social services (`social_services`, recorded by coordinators)."""

    id = fields.UUID(**_about(CLIENT_ID_DESCRIPTION))
    subject_id = fields.UUID(
        required=True,
        metadata={"description": "The person it is about (a household member in your scope)"},
    )
    basis = fields.String(
        required=True,
        validate=validate.OneOf(BASES),
        **_about(
            "Who decides: `self` for an adult (18 or over on the day it was given),"
            " `parental` for a child with a parent, `social_services` for a child with no"
            " parent (recorded by coordinators only: 403 otherwise). A basis that does not fit"
            " the person is 422 (`subject_is_child`, `subject_is_adult`, `has_parent`)"
        ),
    )
    decision = fields.String(
        required=True,
        validate=validate.OneOf(DECISIONS),
        **_about("A refusal takes effect at once; a child's grant once verified"),
    )
    guardianship_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "parental only, and then required: the link of the parent who"
            " decided. A link that is not an active mother, father or adoptive parent is 422"
            " `not_a_parent`"
        },
    )
    authority = fields.Nested(
        AuthoritySchema,
        allow_none=True,
        metadata={
            "description": "social_services only, and then required: who decided, decision"
            " number and date"
        },
    )
    given_at = AwareDateTime(
        required=True,
        **_about(
            "When the decision was given, with offset (it may be recorded later); not in the"
            " future, not before the person's birth. Answered in UTC"
        ),
    )
    visit_id = fields.UUID(
        allow_none=True,
        **_about("The visit of the person's household it was collected on, if any"),
    )
    evidence = fields.String(
        required=True,
        validate=validate.OneOf(EVIDENCE),
        **_about("How the decision is documented; `witnessed_verbal` needs `witness_name`"),
    )
    witness_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        **_about("Who witnessed it; required for `witnessed_verbal`"),
    )
    valid_until = fields.Date(
        allow_none=True,
        metadata={
            "description": "Last day it holds (inclusive), not before the day it was given;"
            " null: no end"
        },
    )
    notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=4000),
        **_about("Free text (at most 4000 characters)"),
    )
    review_status = fields.String(
        dump_only=True,
        validate=validate.OneOf(REVIEW_STATUSES),
        **_about(
            "Set by the server. A child's grant is `pending_review` until a coordinator other"
            " than its recorder `verified` or `rejected` it, and counts only once verified;"
            " refusals and adults' own decisions are `not_required` and count at once"
        ),
    )
    recorded_by = fields.UUID(
        dump_only=True, **_about("Set by the server: the user who recorded it")
    )
    recorded_at = fields.AwareDateTime(
        dump_only=True, **_about("Set by the server: when it was recorded (UTC)")
    )
    reviewed_by = fields.UUID(
        dump_only=True,
        allow_none=True,
        **_about("The coordinator who verified or rejected it; null until reviewed"),
    )
    reviewed_at = fields.AwareDateTime(
        dump_only=True, allow_none=True, **_about("When it was reviewed; null until reviewed")
    )
    review_note = fields.String(
        dump_only=True, allow_none=True, **_about("The reviewer's note; null if none")
    )
    revoked_at = fields.AwareDateTime(
        dump_only=True, allow_none=True, **_about("When it was revoked; null while it stands")
    )
    revoked_by = fields.UUID(
        dump_only=True, allow_none=True, **_about("Who revoked it; null while it stands")
    )
    revocation_reason = fields.String(
        dump_only=True, allow_none=True, **_about("Why it was revoked; null while it stands")
    )
    context = fields.Nested(
        ConsentContextSchema,
        dump_only=True,
        **_about("Set by the server: who and what it concerns, for the review queue"),
    )


class ConsentQueryArgsSchema(PageArgsSchema):
    """Filters of the consent list; all given must hold."""

    review_status = fields.String(
        validate=validate.OneOf(REVIEW_STATUSES),
        metadata={
            "description": "Only records with this review status; `pending_review` is the"
            " coordinators' queue (revoked records left out), oldest first"
        },
    )
    subject_id = fields.UUID(**_about("Only records about this person"))
    household_id = fields.UUID(**_about("Only records about members of this household"))
    basis = fields.String(validate=validate.OneOf(BASES), **_about("Only records of this basis"))
    decision = fields.String(
        validate=validate.OneOf(DECISIONS), **_about("Only grants, or only refusals")
    )


class VerifySchema(ma.Schema):
    """A coordinator verifies a child's grant; never one they recorded themselves (four
    eyes)."""

    note = fields.String(allow_none=True, validate=validate.Length(max=4000), **_about(REVIEW_NOTE))


class RejectSchema(ma.Schema):
    """A coordinator rejects a child's grant (the documents do not hold)."""

    note = fields.String(
        required=True,
        validate=[validate.Length(max=4000), NOT_BLANK],
        **_about("Why it is rejected (required; at most 4000 characters)"),
    )


class RevokeSchema(ma.Schema):
    """A decision no longer stands, from now on: the record stays, marked revoked."""

    reason = fields.String(
        required=True,
        validate=[validate.Length(max=4000), NOT_BLANK],
        **_about("Why it is revoked (required; at most 4000 characters)"),
    )


class EligibilitySchema(ma.Schema):
    """Whether a person may be evacuated now under the rule of law, and every reason why
    not. Adding the person to an evacuation and departing evaluate it again, under lock."""

    person_id = fields.UUID(required=True, **_about("The person evaluated"))
    is_child = fields.Boolean(required=True, **_about("Under 18 on the day evaluated"))
    requirement = fields.String(
        required=True,
        validate=validate.OneOf(
            ("self_consent", "parental_consent", "social_services_authorization")
        ),
        **_about(
            "What the person needs: their own consent (adult), a parent's consent (child"
            " with a parent), or a social-services authorization (child with no parent)"
        ),
    )
    eligible = fields.Boolean(
        required=True, **_about("True when the requirement is met and nothing blocks")
    )
    basis = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(BASES),
        **_about("The basis of the consent that meets it; null when not eligible"),
    )
    consent_id = fields.UUID(
        allow_none=True,
        required=True,
        **_about("The consent record that meets it; null when not eligible"),
    )
    reasons = fields.List(
        fields.Nested(ReasonSchema),
        required=True,
        **_about("Every blocking reason, with its code; empty when eligible"),
    )
    evaluated_at = fields.AwareDateTime(required=True, **_about("When it was evaluated (UTC)"))


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
