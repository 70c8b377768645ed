from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app import schema_fields as sf
from app.web.fields import AwareDateTime
from app.web.pagination import PageArgsSchema


class AuditEventSchema(ma.Schema):
    """One thing someone did or saw (every write, every look at a person's record), chained
    to the event before by its hash: append-only, and any edit, deletion, insertion or
    reordering breaks the chain."""

    id = fields.Integer(**sf.about("The event's place in the chain: 1, 2, 3, …"))
    occurred_at = fields.AwareDateTime(**sf.about("When it happened (UTC)"))
    actor_id = fields.UUID(
        allow_none=True, **sf.about("The user who acted; null for the system or no one logged in")
    )
    action = fields.String(
        **sf.about(
            "What happened, e.g. `create`, `update`, `delete`, `read` (a look at a record),"
            " `revoke_all_tokens`, `anonymise`, `refused.<code>`"
        )
    )
    entity_type = fields.String(
        **sf.about(
            "The kind of record: its table (`households`, `persons`, `consent_records`,"
            " `users` …), or `request` for a refused request"
        )
    )
    entity_id = fields.String(allow_none=True, **sf.about("The record's id, as text; null if none"))
    request_id = fields.String(
        allow_none=True, **sf.about("The X-Request-ID of the request it came from; null if none")
    )
    details = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        **sf.about(
            "Accounts and security events: in full. Case records: `fields` and `changed` list"
            " the names of the fields set or changed, `personal_fields` those whose values are"
            " never stored, `withheld` any other detail kept from this view (the hash covers"
            " the stored details)."
        ),
    )
    prev_hash = fields.String(
        **sf.about("The hash of the event before (64 hex digits; all zeros before the first)")
    )
    hash = fields.String(
        **sf.about(
            "HMAC-SHA256 of this event under the audit key, which is never in the database"
            " (64 hex digits)"
        )
    )


class AuditQueryArgsSchema(PageArgsSchema):
    """Filters of the audit trail; all given must hold."""

    entity_type = sf.text(64, "Only events about this kind of record, e.g. `persons`")
    entity_id = sf.text(128, "Only events naming this record id (who looked at a child)")
    actor_id = fields.UUID(**sf.about("Only events of this user"))
    action = sf.text(64, "Only this action, e.g. `read`")
    since = AwareDateTime(**sf.about("From this time (inclusive)"))
    until = AwareDateTime(**sf.about("Before this time"))


class VerificationSchema(ma.Schema):
    """The result of checking the whole audit chain, and its head against the checkpoints
    kept outside the database."""

    ok = fields.Boolean(required=True, **sf.about("True when the trail is intact"))
    checked = fields.Integer(required=True, **sf.about("Events checked"))
    first_broken_id = fields.Integer(
        allow_none=True,
        required=True,
        **sf.about(
            "The first event that fails the check; null when intact or when no one event is to"
            " blame (a forged or unreadable checkpoint)"
        ),
    )
    checkpoints = fields.Integer(
        **sf.about("Checkpoints (AUDIT_CHECKPOINT_PATH) the chain was compared with")
    )
    problem = fields.String(
        allow_none=True, **sf.about("Where and how the trail broke; null if intact")
    )
