from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.consents.models import BASES, DECISIONS, EVIDENCE, REVIEW_STATUSES
from app.errors import ReasonSchema
from app.http import NOT_BLANK, AwareDateTime, PageArgsSchema


class AuthoritySchema(ma.Schema):
    name = fields.String(required=True, validate=[validate.Length(max=200), NOT_BLANK])
    officer_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    decision_ref = fields.String(required=True, validate=[validate.Length(max=100), NOT_BLANK])
    decision_date = fields.Date(required=True)


class ConsentContextSchema(ma.Schema):
    """What a reviewer needs to decide without another request."""

    subject_name = fields.String()
    subject_age = fields.Integer()
    subject_is_child = fields.Boolean()
    subject_dob_estimated = fields.Boolean(metadata={"description": "The age is an estimate"})
    household_id = fields.UUID()
    household_ref = fields.String()
    given_by = fields.String(allow_none=True, metadata={"description": "Parent, authority or self"})
    relationship = fields.String(allow_none=True, metadata={"description": "The parent's link"})
    relationship_status = fields.String(
        allow_none=True, metadata={"description": "The link's legal status now"}
    )
    recorded_by_name = fields.String()
    visit_visited_at = fields.AwareDateTime(allow_none=True)


class ConsentSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    subject_id = fields.UUID(required=True, metadata={"description": "The person it is about"})
    basis = fields.String(required=True, validate=validate.OneOf(BASES))
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    guardianship_id = fields.UUID(
        allow_none=True, metadata={"description": "parental: the parent's guardianship link"}
    )
    authority = fields.Nested(
        AuthoritySchema,
        allow_none=True,
        metadata={"description": "social_services: who decided, decision number and date"},
    )
    given_at = AwareDateTime(required=True)
    visit_id = fields.UUID(allow_none=True)
    evidence = fields.String(required=True, validate=validate.OneOf(EVIDENCE))
    witness_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    valid_until = fields.Date(allow_none=True, metadata={"description": "Last day it holds"})
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    review_status = fields.String(dump_only=True, validate=validate.OneOf(REVIEW_STATUSES))
    recorded_by = fields.UUID(dump_only=True)
    recorded_at = fields.AwareDateTime(dump_only=True)
    reviewed_by = fields.UUID(dump_only=True, allow_none=True)
    reviewed_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    review_note = fields.String(dump_only=True, allow_none=True)
    revoked_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_by = fields.UUID(dump_only=True, allow_none=True)
    revocation_reason = fields.String(dump_only=True, allow_none=True)
    context = fields.Nested(ConsentContextSchema, dump_only=True)


class ConsentQueryArgsSchema(PageArgsSchema):
    review_status = fields.String(
        validate=validate.OneOf(REVIEW_STATUSES),
        metadata={"description": "pending_review: the coordinators' queue, oldest first"},
    )
    subject_id = fields.UUID()
    household_id = fields.UUID()
    basis = fields.String(validate=validate.OneOf(BASES))
    decision = fields.String(validate=validate.OneOf(DECISIONS))


class VerifySchema(ma.Schema):
    note = fields.String(allow_none=True, validate=validate.Length(max=4000))


class RejectSchema(ma.Schema):
    note = fields.String(required=True, validate=[validate.Length(max=4000), NOT_BLANK])


class RevokeSchema(ma.Schema):
    reason = fields.String(required=True, validate=[validate.Length(max=4000), NOT_BLANK])


class EligibilitySchema(ma.Schema):
    person_id = fields.UUID(required=True)
    is_child = fields.Boolean(required=True)
    requirement = fields.String(
        required=True,
        validate=validate.OneOf(
            ("self_consent", "parental_consent", "social_services_authorization")
        ),
    )
    eligible = fields.Boolean(required=True)
    basis = fields.String(allow_none=True, required=True)
    consent_id = fields.UUID(allow_none=True, required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)
    evaluated_at = fields.AwareDateTime(required=True)
