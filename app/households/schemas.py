from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app import schema_fields as sf
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
from app.web.pagination import PageArgsSchema

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

    id = sf.client_id()
    ref = sf.read_only(
        fields.String,
        "Set by the server: short unique reference readable over a radio, e.g. `K7M-3QX`"
        " (no 0/O or 1/I)",
    )
    team_id = fields.UUID(
        allow_none=True,
        **sf.about(
            "The team the household is assigned to. A field worker's households are their own"
            " team's (leave out, or send that team); a coordinator assigns any team, or none"
        ),
    )
    locality = sf.text(120, LOCALITY, min_length=1, not_blank=True, required=True)
    district = sf.text(120, "District or neighbourhood within the locality", allow_none=True)
    address_description = sf.text(
        sf.MAX_TEXT,
        "Free text that finds the place, e.g. 'basement of the 5-storey block by school no. 11'",
        allow_none=True,
    )
    latitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-90, max=90),
        **sf.about("WGS 84 degrees north (-90 to 90); give it with `longitude`, or neither"),
    )
    longitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-180, max=180),
        **sf.about("WGS 84 degrees east (-180 to 180); give it with `latitude`, or neither"),
    )
    status = sf.code(
        HOUSEHOLD_STATUSES,
        "Set by the server: where the household is in its lifecycle. Changed by POST"
        " /households/{id}/status only, and by a logged conversation (identified becomes"
        " engaging) and an evacuation's arrival (evacuated)",
        dump_only=True,
    )
    closed_reason = sf.code(
        CLOSE_REASONS,
        "Why it was closed, while it is closed; null otherwise",
        dump_only=True,
        allow_none=True,
    )
    closed_note = sf.read_only_or_null(
        fields.String, "The note given when it was closed, while it is closed; null otherwise"
    )
    priority = sf.code(PRIORITIES, "How urgently it needs the team; `normal` when not given")
    needs = fields.List(
        fields.String(validate=validate.OneOf(NEEDS)),
        **sf.about(
            "What the family needs to be able to leave; stored once each, sorted. Housing"
            " matches follow `rent_money` (free offers only) and `pets` (pets allowed)"
        ),
    )
    contact_phone = sf.text(
        40, "A phone number that reaches the family, as dialled", allow_none=True
    )
    notes = sf.text(sf.MAX_TEXT, "Free text for the team", allow_none=True)
    last_visit_at = sf.read_only_or_null(
        fields.AwareDateTime,
        "Set by the server: time of the latest visit logged (UTC); null before any",
    )
    next_visit_due = sf.read_only_or_null(
        fields.Date, "Set by the server: the `next_visit_on` of the latest visit; null when none"
    )
    member_count = sf.read_only(fields.Integer, "Set by the server: people present")
    child_count = sf.read_only(
        fields.Integer, "Set by the server: children (under 18 today) present"
    )
    version = sf.record_version()
    created_at = sf.read_only(fields.AwareDateTime, "Set by the server (UTC)")
    updated_at = sf.read_only(
        fields.AwareDateTime, "Set by the server: time of the last change (UTC)"
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

    locality = sf.text(120, LOCALITY, min_length=1, not_blank=True)


class HouseholdStatusChangeSchema(ma.Schema):
    """A move along the household's lifecycle. Field workers move their team's households
    among engaging, ready and declined; coordinators also close them (with a reason) and
    re-open them (to engaging). Any other move is 409 `invalid_transition`."""

    status = sf.code(
        HOUSEHOLD_STATUSES,
        "The status to move to. `identified` and `evacuated` are never sent (409): a"
        " household starts identified, and an evacuation's arrival makes it evacuated",
        # no move leads there (lifecycle.TRANSITIONS): not offered to clients
        server_only=("identified", "evacuated"),
        required=True,
    )
    reason = sf.code(
        CLOSE_REASONS,
        "Closing only, and then required: why. `evacuated_and_arrived` only for an evacuated"
        " household",
        allow_none=True,
    )
    note = sf.text(sf.MAX_TEXT, "Closing only: a few words on why", allow_none=True)


class HouseholdQueryArgsSchema(PageArgsSchema):
    """Filters of the household list; all given must hold."""

    status = sf.code(HOUSEHOLD_STATUSES, "Only households with this status")
    priority = sf.code(PRIORITIES, "Only households with this priority")
    team_id = fields.UUID(**sf.about("Coordinators: one team's households"))
    visit_overdue = fields.Boolean(
        **sf.about(
            "true: only households whose next visit is past due, most urgent and oldest"
            " first; false: only the others"
        )
    )
    q = sf.text(
        100,
        "Text found in the ref, the locality or a member's name (a part of it, ignoring case)",
        min_length=1,
    )


class PersonSchema(ma.Schema):
    """A member of a household. Age, child (under 18) and elderly (60 or over) are derived
    from the birth date on the day asked, never stored."""

    id = sf.client_id()
    household_id = sf.read_only(
        fields.UUID, "Set by the server: the household the person belongs to"
    )
    full_name = sf.text(200, FULL_NAME, min_length=1, not_blank=True, required=True)
    sex = sf.code(SEXES, "`unknown` when not given")
    date_of_birth = fields.Date(
        **sf.about(
            "Birth date; when `dob_estimated`, derived from an estimated age. Send this or"
            " `estimated_age`, not both"
        )
    )
    dob_estimated = sf.read_only(
        fields.Boolean, "Set by the server: true when the birth date comes from `estimated_age`"
    )
    age = sf.read_only(fields.Integer, "Set by the server: whole years, on the day asked (UTC)")
    is_child = sf.read_only(fields.Boolean, "Set by the server: under 18 on the day asked")
    is_elderly = sf.read_only(fields.Boolean, "Set by the server: 60 or over on the day asked")
    status = sf.code(PERSON_STATUSES, PERSON_STATUS)
    mobility = sf.code(
        MOBILITIES,
        "Whether the person can walk out; `walks` when not given. `walks_with_help` and"
        " `cannot_walk` limit housing matches to step-free offers",
    )
    medical_notes = sf.text(
        sf.MAX_TEXT, "Conditions, medication, what the team must know", allow_none=True
    )
    version = sf.record_version()


class PersonCreateSchema(PersonSchema):
    """A new member: `full_name` and either `date_of_birth` or `estimated_age`."""

    # a new member is never evacuated (422): not offered to clients
    status = sf.code(PERSON_STATUSES, PERSON_STATUS, server_only=("evacuated",))

    estimated_age = fields.Integer(
        load_only=True,
        validate=validate.Range(min=0, max=MAX_AGE),
        **sf.about(
            "Age in whole years when the birth date is not known (0-120): the birth date is"
            " set to the middle of that year of age and `dob_estimated` to true"
        ),
    )


class PersonUpdateSchema(PersonCreateSchema):
    """Changes to a person: only the fields sent change. Send `If-Match`. Only a
    coordinator makes a child 18 or over."""

    class Meta:
        exclude = ("id",)

    full_name = sf.text(200, FULL_NAME, min_length=1, not_blank=True)
    # `evacuated` stays offered: sent back unchanged for an evacuated person, it is taken
    status = sf.code(PERSON_STATUSES, PERSON_STATUS)


class GuardianshipSchema(ma.Schema):
    """A child's link to an adult who looks after them: a member of the child's household or
    someone elsewhere (a parent abroad). Give `guardian_person_id` or `external_name`."""

    id = sf.client_id()
    child_id = sf.read_only(fields.UUID, "Set by the server: the child (the person in the path)")
    guardian_person_id = fields.UUID(
        allow_none=True,
        **sf.about(
            "The guardian, when an adult member of the child's household; null for a guardian"
            " elsewhere"
        ),
    )
    external_name = sf.text(
        200,
        "The guardian's name, when not a member of the child's household; null otherwise",
        allow_none=True,
    )
    external_contact = sf.text(
        200, "How to reach a guardian elsewhere (phone, messenger); null otherwise", allow_none=True
    )
    relationship = sf.code(RELATIONSHIPS, RELATIONSHIP, required=True)
    legal_status = sf.code(
        LEGAL_STATUSES,
        LEGAL_STATUS + ". A guardian on record who is deceased or missing gets that status",
    )
    is_parent = sf.read_only(
        fields.Boolean,
        "Set by the server: an active mother, father or adoptive parent link, who can give"
        " parental consent",
    )
    version = sf.record_version()


class GuardianshipUpdateSchema(ma.Schema):
    """Changes to a guardianship link: only the fields sent change. Send `If-Match`. Only a
    coordinator records that a parent can no longer decide for the child."""

    relationship = sf.code(RELATIONSHIPS, RELATIONSHIP)
    legal_status = sf.code(LEGAL_STATUSES, LEGAL_STATUS)
    external_name = sf.text(
        200, "A guardian elsewhere only: their name (not blank)", allow_none=True
    )
    external_contact = sf.text(200, "A guardian elsewhere only: how to reach them", allow_none=True)


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
