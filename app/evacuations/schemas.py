from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.evacuations.models import MODES, STATUSES
from app.http import (
    CLIENT_ID_DESCRIPTION,
    NOT_BLANK,
    VERSION_DESCRIPTION,
    AwareDateTime,
    PageArgsSchema,
)


def _about(description: str) -> dict:
    return {"metadata": {"description": description}}


class MemberSchema(ma.Schema):
    """A person in an evacuation, and who goes with them. Adding one evaluates the rule of
    law now, under lock: a refusal is 409 with every reason."""

    person_id = fields.UUID(
        required=True,
        **_about("The person who leaves: present, eligible, in no other active evacuation"),
    )
    accompanied_by_person_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "A child goes accompanied: an adult member of this same evacuation"
            " who goes with them (or name `escort_user_id`); otherwise 409"
            " `unaccompanied_child`"
        },
    )
    escort_user_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "Or a named member of staff (an active field worker or"
            " coordinator) who escorts the child"
        },
    )
    destination_offer_id = fields.UUID(
        allow_none=True, **_about("The housing offer the person goes to, if known")
    )


class EvacuationSchema(ma.Schema):
    """One movement out: who runs it, when and how it leaves, where people meet, and who
    goes with whom. planned → departed → arrived, or cancelled."""

    id = fields.UUID(metadata={"description": CLIENT_ID_DESCRIPTION})
    team_id = fields.UUID(required=True, **_about("The team that runs it"))
    planned_departure = AwareDateTime(
        required=True, **_about("When it is planned to leave, with offset (answered in UTC)")
    )
    mode = fields.String(
        required=True,
        validate=validate.OneOf(MODES),
        **_about("On foot, or by vehicle when the road allows"),
    )
    meeting_point = fields.String(
        required=True,
        validate=[validate.Length(max=4000), NOT_BLANK],
        **_about("Where the people meet to leave"),
    )
    route_notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=4000),
        **_about("The route and its dangers, for the team"),
    )
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(STATUSES),
        **_about("Set by the server: changed by the depart, arrive and cancel actions"),
    )
    departed_at = fields.AwareDateTime(
        dump_only=True, allow_none=True, **_about("When it departed (UTC); null before")
    )
    arrived_at = fields.AwareDateTime(
        dump_only=True, allow_none=True, **_about("When it arrived (UTC); null before")
    )
    members = fields.List(
        fields.Nested(MemberSchema),
        dump_only=True,
        **_about("Set by the server: the people going, added and removed under `/members`"),
    )
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))


class EvacuationQueryArgsSchema(PageArgsSchema):
    """Filters of the evacuation list."""

    status = fields.String(
        validate=validate.OneOf(STATUSES), **_about("Only evacuations with this status")
    )


# --- an example for the document (fictional places) --------------------------------------

EVACUATION_EXAMPLE = {
    "team_id": "0e6b3d29-5c71-4a8f-b2d4-7f1a9c8e2b60",
    "planned_departure": "2026-11-20T05:30:00+02:00",
    "mode": "on_foot",
    "meeting_point": "The pharmacy yard on Linden Street, behind the blue gate",
    "route_notes": "Along the riverbank to the footbridge; keep off the main road after dawn.",
}
