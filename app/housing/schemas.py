from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from app.housing.models import KINDS, OFFER_STATUSES, PHOTO_TYPES, PROPOSAL_STATUSES
from app.http import NOT_BLANK, PageArgsSchema

MAX_RENT = 10_000_000


def _rent_in_range(value) -> None:
    # a callable, not validate.Range: apispec would write a Decimal bound as a string
    if not 0 <= value <= MAX_RENT:
        raise ma.ValidationError(f"Must be between 0 and {MAX_RENT}.")


class PhotoSchema(ma.Schema):
    id = fields.UUID()
    content_type = fields.String(validate=validate.OneOf(PHOTO_TYPES))
    width = fields.Integer()
    height = fields.Integer()
    caption = fields.String(allow_none=True)


class HousingOfferSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    title = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    locality = fields.String(required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK])
    address = fields.String(allow_none=True, validate=validate.Length(max=4000))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    free_capacity = fields.Integer(dump_only=True)
    rooms = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1000))
    monthly_rent = fields.Decimal(
        places=2,
        as_string=True,
        validate=_rent_in_range,
        metadata={
            "description": "A decimal string; 0 means free of rent; at most 10,000,000",
            "type": "string",
            "format": "decimal",
            "example": "0.00",
        },
    )
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$"))
    step_free = fields.Boolean()
    pets_allowed = fields.Boolean()
    available_from = fields.Date(allow_none=True)
    available_until = fields.Date(allow_none=True)
    provider_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    provider_contact = fields.String(allow_none=True, validate=validate.Length(max=200))
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.String(dump_only=True, validate=validate.OneOf(OFFER_STATUSES))
    photos = fields.List(fields.Nested(PhotoSchema), dump_only=True)
    version = fields.Integer(dump_only=True)


class HousingOfferUpdateSchema(HousingOfferSchema):
    class Meta:
        exclude = ("id",)

    title = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    kind = fields.String(validate=validate.OneOf(KINDS))
    locality = fields.String(validate=[validate.Length(min=1, max=120), NOT_BLANK])
    capacity = fields.Integer(validate=validate.Range(min=1, max=1000))
    status = fields.String(
        validate=validate.OneOf(("withdrawn",)),
        metadata={"description": "Send withdrawn to withdraw the offer (it stays on record)"},
    )


class HousingOfferQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(OFFER_STATUSES))
    locality = fields.String(validate=validate.Length(min=1, max=120))


class PhotoUploadSchema(ma.Schema):
    caption = fields.String(validate=validate.Length(max=500))


class PhotoFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "A JPEG, PNG or WebP photo"})


class ProposalSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    household_id = fields.UUID(dump_only=True)
    offer_id = fields.UUID(required=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    places = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "Places held while accepted"}
    )
    decided_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    reason = fields.String(dump_only=True, allow_none=True)


class DeclineSchema(ma.Schema):
    reason = fields.String(required=True, validate=[validate.Length(max=4000), NOT_BLANK])


class WithdrawSchema(ma.Schema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=4000))
