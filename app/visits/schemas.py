from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http import AwareDateTime
from app.visits.models import CONCERNS, OUTCOMES, SAFETY, STANCES, WAYS_OUT

MAX_TEXT = 4000


class StanceSchema(ma.Schema):
    person_id = fields.UUID(required=True)
    stance = fields.String(required=True, validate=validate.OneOf(STANCES))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class VisitSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    household_id = fields.UUID(dump_only=True)
    visited_at = AwareDateTime(
        required=True, metadata={"description": "The device's time of the visit, with offset"}
    )
    recorded_by = fields.UUID(dump_only=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    stances = fields.List(
        fields.Nested(StanceSchema), load_default=list, validate=validate.Length(max=50)
    )
    concerns = fields.List(fields.String(validate=validate.OneOf(CONCERNS)), load_default=list)
    safety = fields.String(allow_none=True, validate=validate.OneOf(SAFETY))
    way_out = fields.String(allow_none=True, validate=validate.OneOf(WAYS_OUT))
    next_visit_on = fields.Date(allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=MAX_TEXT))
    recorded_at = fields.AwareDateTime(dump_only=True)
