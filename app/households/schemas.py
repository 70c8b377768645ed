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
from app.http import CLIENT_ID_DESCRIPTION, NOT_BLANK, VERSION_DESCRIPTION, PageArgsSchema
from app.openapi_schemas import SET_BY_SERVER

MAX_TEXT = 4000


def _text(max_length: int = MAX_TEXT, **kwargs) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length), **kwargs)


def _about(description: str) -> dict:
    return {"metadata": {"description": description}}


LOCALITY = "Town or village (1-120 characters)"
FULL_NAME = "Full name as the family gives it (1-200 characters)"
RELATIONSHIP = (
    "The guardian's relationship to the child. Only `mother`, `father` and `adoptive_parent`"
    " are parents, who alone give parental consent (while `active`)"
)
PERSON_STATUS = (
    "`present` when not given. `evacuated` is set by the server only, when the person's"
    " evacuation arrives; after that the status no longer changes"
)
LEGAL_STATUS = (
    "Whether the guardian can act for the child now; `active` when not given. A parent who is"
    " deceased, missing or deprived of rights no longer counts as a parent"
)


class HouseholdSchema(ma.Schema):
    """A household the teams visit: where it is, how urgent, what it needs, and its place in
    the lifecycle (identified, engaging, ready, evacuated, declined, closed)."""

    id = fields.UUID(**_about(CLIENT_ID_DESCRIPTION))
    ref = fields.String(
        dump_only=True,
        **_about(
            "Set by the server: short unique reference readable over a radio, e.g. `K7M-3QX`"
            " (no 0/O or 1/I)"
        ),
    )
    team_id = fields.UUID(
        allow_none=True,
        **_about(
            "The team the household is assigned to. A field worker's households are their own"
            " team's (leave out, or send that team); a coordinator assigns any team, or none"
        ),
    )
    locality = fields.String(
        required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK], **_about(LOCALITY)
    )
    district = _text(120, **_about("District or neighbourhood within the locality"))
    address_description = _text(
        **_about(
            "Free text that finds the place, e.g. 'basement of the 5-storey block by school no. 11'"
        )
    )
    latitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-90, max=90),
        **_about("WGS 84 degrees north (-90 to 90); give it with `longitude`, or neither"),
    )
    longitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-180, max=180),
        **_about("WGS 84 degrees east (-180 to 180); give it with `latitude`, or neither"),
    )
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(HOUSEHOLD_STATUSES),
        metadata={
            "description": "Set by the server: where the household is in its lifecycle."
            " Changed by POST /households/{id}/status only, and by a logged conversation"
            " (identified becomes engaging) and an evacuation's arrival (evacuated)"
        },
    )
    closed_reason = fields.String(
        dump_only=True,
        allow_none=True,
        validate=validate.OneOf(CLOSE_REASONS),
        metadata={"description": "Why it was closed, while it is closed; null otherwise"},
    )
    closed_note = fields.String(
        dump_only=True,
        allow_none=True,
        **_about("The note given when it was closed, while it is closed; null otherwise"),
    )
    priority = fields.String(
        validate=validate.OneOf(PRIORITIES),
        **_about("How urgently it needs the team; `normal` when not given"),
    )
    needs = fields.List(
        fields.String(validate=validate.OneOf(NEEDS)),
        **_about(
            "What the family needs to be able to leave; stored once each, sorted. Housing"
            " matches follow `rent_money` (free offers only) and `pets` (pets allowed)"
        ),
    )
    contact_phone = _text(40, **_about("A phone number that reaches the family, as dialled"))
    notes = _text(**_about("Free text for the team"))
    last_visit_at = fields.AwareDateTime(
        dump_only=True,
        allow_none=True,
        **_about("Set by the server: time of the latest visit logged (UTC); null before any"),
    )
    next_visit_due = fields.Date(
        dump_only=True,
        allow_none=True,
        **_about("Set by the server: the `next_visit_on` of the latest visit; null when none"),
    )
    member_count = fields.Integer(
        dump_only=True, metadata={"description": "Set by the server: people present"}
    )
    child_count = fields.Integer(
        dump_only=True,
        metadata={"description": "Set by the server: children (under 18 today) present"},
    )
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))
    created_at = fields.AwareDateTime(dump_only=True, **_about("Set by the server (UTC)"))
    updated_at = fields.AwareDateTime(
        dump_only=True, **_about("Set by the server: time of the last change (UTC)")
    )

    @ma.validates_schema
    def _coordinates_together(self, data, **_kwargs):
        if ("latitude" in data) != ("longitude" in data) or (
            (data.get("latitude") is None) != (data.get("longitude") is None)
        ):
            raise ma.ValidationError("Give latitude and longitude together.", "latitude")


class HouseholdUpdateSchema(HouseholdSchema):
    """Changes to a household: only the fields sent change. Send `If-Match`."""

    class Meta:
        exclude = ("id",)

    locality = fields.String(
        validate=[validate.Length(min=1, max=120), NOT_BLANK], **_about(LOCALITY)
    )


class HouseholdStatusChangeSchema(ma.Schema):
    """A move along the household's lifecycle. Field workers move their team's households
    among engaging, ready and declined; coordinators also close them (with a reason) and
    re-open them (to engaging). Any other move is 409 `invalid_transition`."""

    status = fields.String(
        required=True,
        validate=validate.OneOf(HOUSEHOLD_STATUSES),
        metadata={
            "description": "The status to move to. `identified` and `evacuated` are never"
            " sent (409): a household starts identified, and an evacuation's arrival makes"
            " it evacuated",
            # no move leads there (service.TRANSITIONS): not offered to clients
            SET_BY_SERVER: ("identified", "evacuated"),
        },
    )
    reason = fields.String(
        allow_none=True,
        validate=validate.OneOf(CLOSE_REASONS),
        metadata={
            "description": "Closing only, and then required: why. `evacuated_and_arrived` only"
            " for an evacuated household"
        },
    )
    note = _text(metadata={"description": "Closing only: a few words on why"})


class HouseholdQueryArgsSchema(PageArgsSchema):
    """Filters of the household list; all given must hold."""

    status = fields.String(
        validate=validate.OneOf(HOUSEHOLD_STATUSES), **_about("Only households with this status")
    )
    priority = fields.String(
        validate=validate.OneOf(PRIORITIES), **_about("Only households with this priority")
    )
    team_id = fields.UUID(metadata={"description": "Coordinators: one team's households"})
    visit_overdue = fields.Boolean(
        metadata={
            "description": "true: only households whose next visit is past due, most urgent"
            " and oldest first; false: only the others"
        }
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Text found in the ref, the locality or a member's name (a part of"
            " it, ignoring case)"
        },
    )


class PersonSchema(ma.Schema):
    """A member of a household. Age, child (under 18) and elderly (60 or over) are derived
    from the birth date on the day asked, never stored."""

    id = fields.UUID(**_about(CLIENT_ID_DESCRIPTION))
    household_id = fields.UUID(
        dump_only=True, **_about("Set by the server: the household the person belongs to")
    )
    full_name = fields.String(
        required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK], **_about(FULL_NAME)
    )
    sex = fields.String(validate=validate.OneOf(SEXES), **_about("`unknown` when not given"))
    date_of_birth = fields.Date(
        metadata={
            "description": "Birth date; when `dob_estimated`, derived from an estimated age."
            " Send this or `estimated_age`, not both"
        }
    )
    dob_estimated = fields.Boolean(
        dump_only=True,
        **_about("Set by the server: true when the birth date comes from `estimated_age`"),
    )
    age = fields.Integer(
        dump_only=True,
        metadata={"description": "Set by the server: whole years, on the day asked (UTC)"},
    )
    is_child = fields.Boolean(
        dump_only=True, **_about("Set by the server: under 18 on the day asked")
    )
    is_elderly = fields.Boolean(
        dump_only=True, **_about("Set by the server: 60 or over on the day asked")
    )
    status = fields.String(validate=validate.OneOf(PERSON_STATUSES), **_about(PERSON_STATUS))
    mobility = fields.String(
        validate=validate.OneOf(MOBILITIES),
        **_about(
            "Whether the person can walk out; `walks` when not given. `walks_with_help` and"
            " `cannot_walk` limit housing matches to step-free offers"
        ),
    )
    medical_notes = _text(**_about("Conditions, medication, what the team must know"))
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))


class PersonCreateSchema(PersonSchema):
    """A new member: `full_name` and either `date_of_birth` or `estimated_age`."""

    status = fields.String(
        validate=validate.OneOf(PERSON_STATUSES),
        # a new member is never evacuated (422): not offered to clients
        metadata={"description": PERSON_STATUS, SET_BY_SERVER: ("evacuated",)},
    )

    estimated_age = fields.Integer(
        load_only=True,
        validate=validate.Range(min=0, max=MAX_AGE),
        metadata={
            "description": "Age in whole years when the birth date is not known (0-120): the"
            " birth date is set to the middle of that year of age and `dob_estimated` to true"
        },
    )


class PersonUpdateSchema(PersonCreateSchema):
    """Changes to a person: only the fields sent change. Send `If-Match`. Only a
    coordinator makes a child 18 or over."""

    class Meta:
        exclude = ("id",)

    full_name = fields.String(
        validate=[validate.Length(min=1, max=200), NOT_BLANK], **_about(FULL_NAME)
    )
    # `evacuated` stays offered: sent back unchanged for an evacuated person, it is taken
    status = fields.String(validate=validate.OneOf(PERSON_STATUSES), **_about(PERSON_STATUS))


class GuardianshipSchema(ma.Schema):
    """A child's link to an adult who looks after them: a member of the child's household or
    someone elsewhere (a parent abroad). Give `guardian_person_id` or `external_name`."""

    id = fields.UUID(**_about(CLIENT_ID_DESCRIPTION))
    child_id = fields.UUID(
        dump_only=True, **_about("Set by the server: the child (the person in the path)")
    )
    guardian_person_id = fields.UUID(
        allow_none=True,
        metadata={
            "description": "The guardian, when an adult member of the child's household;"
            " null for a guardian elsewhere"
        },
    )
    external_name = _text(
        200,
        metadata={
            "description": "The guardian's name, when not a member of the child's household;"
            " null otherwise"
        },
    )
    external_contact = _text(
        200, **_about("How to reach a guardian elsewhere (phone, messenger); null otherwise")
    )
    relationship = fields.String(
        required=True, validate=validate.OneOf(RELATIONSHIPS), **_about(RELATIONSHIP)
    )
    legal_status = fields.String(
        validate=validate.OneOf(LEGAL_STATUSES),
        **_about(
            LEGAL_STATUS + ". A guardian on record who is deceased or missing gets that status"
        ),
    )
    is_parent = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "Set by the server: an active mother, father or adoptive parent"
            " link, who can give parental consent"
        },
    )
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))


class GuardianshipUpdateSchema(ma.Schema):
    """Changes to a guardianship link: only the fields sent change. Send `If-Match`. Only a
    coordinator records that a parent can no longer decide for the child."""

    relationship = fields.String(validate=validate.OneOf(RELATIONSHIPS), **_about(RELATIONSHIP))
    legal_status = fields.String(validate=validate.OneOf(LEGAL_STATUSES), **_about(LEGAL_STATUS))
    external_name = _text(200, **_about("A guardian elsewhere only: their name (not blank)"))
    external_contact = _text(200, **_about("A guardian elsewhere only: how to reach them"))


# --- examples for the document (fictional people and places) -----------------------------

HOUSEHOLD_EXAMPLE = {
    "locality": "Riverside",
    "district": "Old Mill",
    "address_description": "Basement of the 5-storey block by school no. 11, door on the yard",
    "latitude": 47.1234,
    "longitude": 37.5678,
    "priority": "urgent",
    "needs": ["transport_money", "medical"],
    "contact_phone": "+000 55 0100 123",
    "notes": "Knock twice; the family answers only to the team they know.",
}
MEMBER_EXAMPLE = {
    "full_name": "Daryna Lisova",
    "sex": "female",
    "estimated_age": 7,
    "mobility": "walks",
    "medical_notes": "Asthma: keeps her inhaler in the blue bag.",
}
GUARDIAN_EXAMPLES = {
    "member": {
        "summary": "The child's mother, a member of the household",
        "value": {
            "guardian_person_id": "3f0c6a52-7d41-4c1e-9b2a-5e8f10c2d7a4",
            "relationship": "mother",
            "legal_status": "active",
        },
    },
    "elsewhere": {
        "summary": "The child's father, abroad",
        "value": {
            "external_name": "Marko Lis",
            "external_contact": "+000 55 0199 876 (messenger)",
            "relationship": "father",
        },
    },
}
