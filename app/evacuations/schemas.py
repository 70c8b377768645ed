from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app import schema_fields as sf
from app.evacuations.models import MODES, STATUSES
from app.web.fields import AwareDateTime
from app.web.pagination import PageArgsSchema


class MemberSchema(ma.Schema):
    """A person in an evacuation, and who goes with them. Adding one evaluates the rule of
    law now, under lock: a refusal is 409 with every reason."""

    person_id = fields.UUID(
        required=True,
        **sf.about("The person who leaves: present, eligible, in no other active evacuation"),
    )
    accompanied_by_person_id = fields.UUID(
        allow_none=True,
        **sf.about(
            "A child goes accompanied: an adult member of this same evacuation who goes with"
            " them (or name `escort_user_id`); otherwise 409 `unaccompanied_child`"
        ),
    )
    escort_user_id = fields.UUID(
        allow_none=True,
        **sf.about(
            "Or a named member of staff (an active field worker or coordinator) who escorts"
            " the child"
        ),
    )
    destination_offer_id = fields.UUID(
        allow_none=True, **sf.about("The housing offer the person goes to, if known")
    )


class EvacuationSchema(ma.Schema):
    """One movement out: who runs it, when and how it leaves, where people meet, and who
    goes with whom. planned → departed → arrived, or cancelled."""

    id = sf.client_id()
    team_id = fields.UUID(required=True, **sf.about("The team that runs it"))
    planned_departure = AwareDateTime(
        required=True, **sf.about("When it is planned to leave, with offset (answered in UTC)")
    )
    mode = sf.code(MODES, "On foot, or by vehicle when the road allows", required=True)
    meeting_point = sf.text(
        sf.MAX_TEXT, "Where the people meet to leave", not_blank=True, required=True
    )
    route_notes = sf.text(sf.MAX_TEXT, "The route and its dangers, for the team", allow_none=True)
    status = sf.code(
        STATUSES,
        "Set by the server: changed by the depart, arrive and cancel actions",
        dump_only=True,
    )
    departed_at = sf.read_only_or_null(fields.AwareDateTime, "When it departed (UTC); null before")
    arrived_at = sf.read_only_or_null(fields.AwareDateTime, "When it arrived (UTC); null before")
    members = fields.List(
        fields.Nested(MemberSchema),
        dump_only=True,
        **sf.about("Set by the server: the people going, added and removed under `/members`"),
    )
    version = sf.record_version()


class EvacuationQueryArgsSchema(PageArgsSchema):
    """Filters of the evacuation list."""

    status = sf.code(STATUSES, "Only evacuations with this status")


# --- an example for the document (fictional places) --------------------------------------

EVACUATION_EXAMPLE = {
    "team_id": "0e6b3d29-5c71-4a8f-b2d4-7f1a9c8e2b60",
    "planned_departure": "2026-11-20T05:30:00+02:00",
    "mode": "on_foot",
    "meeting_point": "The pharmacy yard on Linden Street, behind the blue gate",
    "route_notes": "Along the riverbank to the footbridge; keep off the main road after dawn.",
}
