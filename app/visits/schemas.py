from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app import schema_fields as sf
from app.visits.models import CONCERNS, OUTCOMES, SAFETY, STANCES, WAYS_OUT
from app.web.fields import AwareDateTime


class VisitStanceSchema(ma.Schema):
    """Where one person met on the visit stands on leaving. (Not named `Stance`: a
    component with a property of its own name trips generated code.)"""

    person_id = fields.UUID(
        required=True, **sf.about("A member of the visited household, listed once per visit")
    )
    stance = sf.code(STANCES, "The person's own position, whatever the others want", required=True)
    note = sf.text(
        1000, "Their words or reasons, briefly (at most 1000 characters)", allow_none=True
    )


class VisitSchema(ma.Schema):
    """One visit of a team to a household: who was met and where each stands, what holds
    the family back, how safe it was. Never edited: a correction is a new visit."""

    id = sf.client_id()
    household_id = sf.read_only(fields.UUID, "Set by the server: the visited household")
    visited_at = AwareDateTime(
        required=True,
        **sf.about(
            "When the visit took place by the device's clock, with its offset (it may be"
            " logged hours later, offline); at most 10 minutes ahead of the server's clock."
            " Answered in UTC"
        ),
    )
    recorded_by = sf.read_only(fields.UUID, "Set by the server: the user who logged it")
    outcome = sf.code(
        OUTCOMES,
        "What came of the visit. A conversation (`talked`, `declined`, `agreed`,"
        " `consent_collected`, `postponed`) moves an `identified` household to `engaging`",
        required=True,
    )
    stances = fields.List(
        fields.Nested(VisitStanceSchema),
        load_default=list,
        validate=validate.Length(max=50),
        **sf.about(
            "Where each person met stands (at most 50): a grandfather may want to go while the"
            " child's mother refuses. Empty when nobody was met"
        ),
    )
    concerns = fields.List(
        fields.String(validate=validate.OneOf(CONCERNS)),
        load_default=list,
        **sf.about("What holds the family back; stored once each, sorted"),
    )
    safety = sf.code(SAFETY, "The security situation during the visit", allow_none=True)
    way_out = sf.code(WAYS_OUT, "How people could leave from here now", allow_none=True)
    next_visit_on = fields.Date(
        allow_none=True,
        **sf.about(
            "The day the team means to come back (not before the visit's own day); the latest"
            " visit's becomes the household's `next_visit_due`"
        ),
    )
    notes = sf.text(
        sf.MAX_TEXT, "Free text for the team (at most 4000 characters)", allow_none=True
    )
    recorded_at = sf.read_only(fields.AwareDateTime, "Set by the server: when it was logged (UTC)")


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
