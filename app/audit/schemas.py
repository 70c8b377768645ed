from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http import AwareDateTime, PageArgsSchema


class AuditEventSchema(ma.Schema):
    id = fields.Integer()
    occurred_at = fields.AwareDateTime()
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={
            "description": (
                "Accounts and security events: in full. Case records: `fields` and `changed` "
                "list the names of the fields set or changed, `personal_fields` those whose "
                "values are never stored, `withheld` any other detail kept from this view "
                "(the hash covers the stored details)."
            )
        },
    )
    prev_hash = fields.String()
    hash = fields.String()


class AuditQueryArgsSchema(PageArgsSchema):
    entity_type = fields.String(validate=validate.Length(max=64))
    entity_id = fields.String(validate=validate.Length(max=128))
    actor_id = fields.UUID()
    action = fields.String(validate=validate.Length(max=64))
    since = AwareDateTime(metadata={"description": "From this time (inclusive)"})
    until = AwareDateTime(metadata={"description": "Before this time"})


class VerificationSchema(ma.Schema):
    ok = fields.Boolean(required=True)
    checked = fields.Integer(required=True, metadata={"description": "Events checked"})
    first_broken_id = fields.Integer(allow_none=True, required=True)
    checkpoints = fields.Integer(
        metadata={"description": "Checkpoints (AUDIT_CHECKPOINT_PATH) the chain was compared with"}
    )
    problem = fields.String(
        allow_none=True, metadata={"description": "Where and how the trail broke; null if intact"}
    )
