from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http import CLIENT_ID_DESCRIPTION, AwareDateTime
from app.visits.models import CONCERNS, OUTCOMES, SAFETY, STANCES, WAYS_OUT

MAX_TEXT = 4000


class VisitStanceSchema(ma.Schema):
    """Where one person met on the visit stands on leaving. (Not named `Stance`: a
    component with a property of its own name trips generated code.)"""

    person_id = fields.UUID(
        required=True,
        metadata={"description": "A member of the visited household, listed once per visit"},
    )
    stance = fields.String(
        required=True,
        validate=validate.OneOf(STANCES),
        metadata={"description": "The person's own position, whatever the others want"},
    )
    note = fields.String(
        allow_none=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Their words or reasons, briefly (at most 1000 characters)"},
    )


class VisitSchema(ma.Schema):
    """One visit of a team to a household: who was met and where each stands, what holds
    the family back, how safe it was. Never edited: a correction is a new visit."""

    id = fields.UUID(metadata={"description": CLIENT_ID_DESCRIPTION})
    household_id = fields.UUID(
        dump_only=True, metadata={"description": "Set by the server: the visited household"}
    )
    visited_at = AwareDateTime(
        required=True,
        metadata={
            "description": "When the visit took place by the device's clock, with its offset"
            " (it may be logged hours later, offline); at most 10 minutes ahead of the"
            " server's clock. Answered in UTC"
        },
    )
    recorded_by = fields.UUID(
        dump_only=True, metadata={"description": "Set by the server: the user who logged it"}
    )
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(OUTCOMES),
        metadata={
            "description": "What came of the visit. A conversation (`talked`, `declined`,"
            " `agreed`, `consent_collected`, `postponed`) moves an `identified` household to"
            " `engaging`"
        },
    )
    stances = fields.List(
        fields.Nested(VisitStanceSchema),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={
            "description": "Where each person met stands (at most 50): a grandfather may want"
            " to go while the child's mother refuses. Empty when nobody was met"
        },
    )
    concerns = fields.List(
        fields.String(validate=validate.OneOf(CONCERNS)),
        load_default=list,
        metadata={"description": "What holds the family back; stored once each, sorted"},
    )
    safety = fields.String(
        allow_none=True,
        validate=validate.OneOf(SAFETY),
        metadata={"description": "The security situation during the visit"},
    )
    way_out = fields.String(
        allow_none=True,
        validate=validate.OneOf(WAYS_OUT),
        metadata={"description": "How people could leave from here now"},
    )
    next_visit_on = fields.Date(
        allow_none=True,
        metadata={
            "description": "The day the team means to come back (not before the visit's own"
            " day); the latest visit's becomes the household's `next_visit_due`"
        },
    )
    notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=MAX_TEXT),
        metadata={"description": "Free text for the team (at most 4000 characters)"},
    )
    recorded_at = fields.AwareDateTime(
        dump_only=True, metadata={"description": "Set by the server: when it was logged (UTC)"}
    )


# --- an example for the document (fictional people) --------------------------------------

VISIT_EXAMPLE = {
    "visited_at": "2026-11-14T09:40:00+02:00",
    "outcome": "talked",
    "stances": [
        {
            "person_id": "3f0c6a52-7d41-4c1e-9b2a-5e8f10c2d7a4",
            "stance": "wants_to_stay",
            "note": "Will not leave without news of her husband.",
        },
        {
            "person_id": "c71b0e95-4a2d-4f8e-8e13-6d9a2f5b0c48",
            "stance": "wants_to_leave",
            "note": "The grandfather would go today if the girl can come with him.",
        },
    ],
    "concerns": ["fear_of_separation", "no_money"],
    "safety": "shelling",
    "way_out": "on_foot_only",
    "next_visit_on": "2026-11-16",
    "notes": "Brought water and batteries. The mother asked about housing in the west.",
}
