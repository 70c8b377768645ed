from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.households.models import (
    CLOSE_REASONS,
    HOUSEHOLD_STATUSES,
    LEGAL_STATUSES,
    MAX_AGE,
    MOBILITIES,
    NEEDS,
    PERSON_STATUSES,
    PRIORITIES,
    RELATIONSHIPS,
    SEXES,
)
from app.http import NOT_BLANK, PageArgsSchema

MAX_TEXT = 4000


def _text(max_length: int = MAX_TEXT, **kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length), **kwargs)


class HouseholdSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    ref = fields.String(dump_only=True, metadata={"description": "Short reference for radio"})
    team_id = fields.UUID(allow_none=True)
    locality = fields.String(required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK])
    district = _text(120)
    address_description = _text()
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(HOUSEHOLD_STATUSES),
        metadata={"description": "Changed by POST /households/{id}/status only"},
    )
    closed_reason = fields.String(
        dump_only=True,
        allow_none=True,
        validate=validate.OneOf(CLOSE_REASONS),
        metadata={"description": "Why it was closed, while it is closed"},
    )
    closed_note = fields.String(dump_only=True, allow_none=True)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    needs = fields.List(fields.String(validate=validate.OneOf(NEEDS)))
    contact_phone = _text(40)
    notes = _text()
    last_visit_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    next_visit_due = fields.Date(dump_only=True, allow_none=True)
    member_count = fields.Integer(dump_only=True, metadata={"description": "People present"})
    child_count = fields.Integer(dump_only=True, metadata={"description": "Children present"})
    version = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)

    @ma.validates_schema
    def _coordinates_together(self, data, **_kwargs):
        if ("latitude" in data) != ("longitude" in data) or (
            (data.get("latitude") is None) != (data.get("longitude") is None)
        ):
            raise ma.ValidationError("Give latitude and longitude together.", "latitude")


class HouseholdUpdateSchema(HouseholdSchema):
    class Meta:
        exclude = ("id",)

    locality = fields.String(validate=[validate.Length(min=1, max=120), NOT_BLANK])


class HouseholdStatusChangeSchema(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(HOUSEHOLD_STATUSES))
    reason = fields.String(
        allow_none=True,
        validate=validate.OneOf(CLOSE_REASONS),
        metadata={"description": "Closing only, and then required"},
    )
    note = _text(metadata={"description": "Closing only: a few words on why"})


class HouseholdQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(HOUSEHOLD_STATUSES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    team_id = fields.UUID(metadata={"description": "Coordinators: one team's households"})
    visit_overdue = fields.Boolean(
        metadata={"description": "true: next visit is past due, most urgent and oldest first"}
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Text in the ref, the locality or a member's name"},
    )


class PersonSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    household_id = fields.UUID(dump_only=True)
    full_name = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    sex = fields.String(validate=validate.OneOf(SEXES))
    date_of_birth = fields.Date(metadata={"description": "Or send estimated_age on create"})
    dob_estimated = fields.Boolean(dump_only=True)
    age = fields.Integer(dump_only=True, metadata={"description": "Years, on the day asked"})
    is_child = fields.Boolean(dump_only=True)
    is_elderly = fields.Boolean(dump_only=True)
    status = fields.String(validate=validate.OneOf(PERSON_STATUSES))
    mobility = fields.String(validate=validate.OneOf(MOBILITIES))
    medical_notes = _text()
    version = fields.Integer(dump_only=True)


class PersonCreateSchema(PersonSchema):
    estimated_age = fields.Integer(
        load_only=True,
        validate=validate.Range(min=0, max=MAX_AGE),
        metadata={"description": "Age in years when the birth date is not known"},
    )


class PersonUpdateSchema(PersonCreateSchema):
    class Meta:
        exclude = ("id",)

    full_name = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])


class GuardianshipSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    child_id = fields.UUID(dump_only=True)
    guardian_person_id = fields.UUID(
        allow_none=True, metadata={"description": "The guardian, when a person on record"}
    )
    external_name = _text(200, metadata={"description": "The guardian, when not on record"})
    external_contact = _text(200)
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS))
    legal_status = fields.String(validate=validate.OneOf(LEGAL_STATUSES))
    is_parent = fields.Boolean(
        dump_only=True, metadata={"description": "An active mother, father or adoptive parent"}
    )
    version = fields.Integer(dump_only=True)


class GuardianshipUpdateSchema(ma.Schema):
    relationship = fields.String(validate=validate.OneOf(RELATIONSHIPS))
    legal_status = fields.String(validate=validate.OneOf(LEGAL_STATUSES))
    external_name = _text(200)
    external_contact = _text(200)
