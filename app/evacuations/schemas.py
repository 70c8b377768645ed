from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.evacuations.models import MODES, STATUSES
from app.http import NOT_BLANK, AwareDateTime, PageArgsSchema


class MemberSchema(ma.Schema):
    person_id = fields.UUID(required=True)
    accompanied_by_person_id = fields.UUID(
        allow_none=True, metadata={"description": "An adult member of the same evacuation"}
    )
    escort_user_id = fields.UUID(
        allow_none=True, metadata={"description": "Or a named member of staff"}
    )
    destination_offer_id = fields.UUID(allow_none=True)


class EvacuationSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    team_id = fields.UUID(required=True)
    planned_departure = AwareDateTime(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    meeting_point = fields.String(required=True, validate=[validate.Length(max=4000), NOT_BLANK])
    route_notes = fields.String(allow_none=True, validate=validate.Length(max=4000))
    status = fields.String(dump_only=True, validate=validate.OneOf(STATUSES))
    departed_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    arrived_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    members = fields.List(fields.Nested(MemberSchema), dump_only=True)
    version = fields.Integer(dump_only=True)


class EvacuationQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
