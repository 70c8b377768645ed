from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from werkzeug.datastructures import FileStorage

from app import schema_fields as sf
from app.housing.models import KINDS, OFFER_STATUSES, PHOTO_TYPES, PROPOSAL_STATUSES
from app.web.pagination import PageArgsSchema

MAX_RENT = 10_000_000


def _rent_in_range(value) -> None:
    # a callable, not validate.Range: apispec would write a Decimal bound as a string
    if not 0 <= value <= MAX_RENT:
        raise ma.ValidationError(f"Must be between 0 and {MAX_RENT}.")


TITLE = "Short title the family recognises, e.g. 'Two-room flat near the station'"
KIND = "What sort of place it is"
LOCALITY = "Town or village where it is (1-120 characters)"
CAPACITY = "How many people it takes (1-1000); never below the places accepted proposals hold"


class PhotoSchema(ma.Schema):
    """A photo of a housing offer, so a family can see where they would live. Download it
    from /housing-offers/{offer_id}/photos/{photo_id}."""

    id = fields.UUID(**sf.about("Set by the server: the photo's id"))
    content_type = sf.code(PHOTO_TYPES, "Media type of the stored image")
    width = fields.Integer(**sf.about("Width in pixels"))
    height = fields.Integer(**sf.about("Height in pixels"))
    caption = fields.String(allow_none=True, **sf.about("Caption given at upload; null if none"))


class HousingOfferSchema(ma.Schema):
    """A place to live found in advance (an apartment, a room, a shelter place), with
    photos, so a family can see where they would live before deciding. Managed by
    coordinators."""

    id = sf.client_id()
    title = sf.text(200, TITLE, min_length=1, not_blank=True, required=True)
    kind = sf.code(KINDS, KIND, required=True)
    locality = sf.text(120, LOCALITY, min_length=1, not_blank=True, required=True)
    address = sf.text(sf.MAX_TEXT, "Street address", allow_none=True)
    capacity = fields.Integer(
        required=True, validate=validate.Range(min=1, max=1000), **sf.about(CAPACITY)
    )
    free_capacity = sf.read_only(
        fields.Integer, "Set by the server: places not held by accepted proposals"
    )
    rooms = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=1000),
        **sf.about("Number of rooms (0-1000)"),
    )
    monthly_rent = fields.Decimal(
        places=2,
        as_string=True,
        validate=_rent_in_range,
        metadata={
            "description": "Monthly rent in `currency`, a decimal string; 0 means free of rent"
            " (the default); at most 10,000,000",
            "type": "string",
            "format": "decimal",
            "example": "0.00",
        },
    )
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$"),
        **sf.about("ISO 4217 code of the rent's currency, e.g. `UAH` (the default)"),
    )
    step_free = fields.Boolean(
        **sf.about(
            "Reachable without steps; households with someone who cannot walk or walks with"
            " help are matched only to such offers. false when not given"
        )
    )
    pets_allowed = fields.Boolean(**sf.about("Pets are welcome; false when not given"))
    available_from = fields.Date(
        allow_none=True, **sf.about("First day it can be moved into; null: now")
    )
    available_until = fields.Date(
        allow_none=True,
        **sf.about("Last day it is offered, not before `available_from`; null: no end"),
    )
    provider_name = sf.text(200, "Who offers it: a landlord, a parish, a shelter", allow_none=True)
    provider_contact = sf.text(200, "How to reach the provider", allow_none=True)
    notes = sf.text(sf.MAX_TEXT, sf.FREE_TEXT, allow_none=True)
    status = sf.code(
        OFFER_STATUSES,
        "Set by the server: `available`; `reserved` while accepted proposals fill it;"
        " `occupied` once a family who accepted it has arrived; `withdrawn`",
        dump_only=True,
    )
    photos = fields.List(
        fields.Nested(PhotoSchema),
        dump_only=True,
        **sf.about("Set by the server: the photos uploaded to /housing-offers/{id}/photos"),
    )
    version = sf.record_version()


class HousingOfferUpdateSchema(HousingOfferSchema):
    """Changes to an offer: only the fields sent change. Send `If-Match`. A withdrawn or
    occupied offer no longer changes."""

    class Meta:
        exclude = ("id",)

    title = sf.text(200, TITLE, min_length=1, not_blank=True)
    kind = sf.code(KINDS, KIND)
    locality = sf.text(120, LOCALITY, min_length=1, not_blank=True)
    capacity = fields.Integer(validate=validate.Range(min=1, max=1000), **sf.about(CAPACITY))
    status = sf.code(
        ("withdrawn",),
        "Send `withdrawn` to withdraw the offer (it stays on record; its open proposals are"
        " withdrawn too). The other statuses are the server's",
    )


class HousingOfferQueryArgsSchema(PageArgsSchema):
    """Filters of the housing offer list; all given must hold."""

    status = sf.code(OFFER_STATUSES, "Only offers with this status")
    locality = sf.text(120, "Offers whose locality contains this text, ignoring case", min_length=1)


class FileUpload(Upload):
    """flask-smorest's Upload, refusing a text field of the same name: the multipart
    location merges form fields and files, and only a file part can be read (422, not 500)."""

    default_error_messages = {"invalid": "Attach a file here (a file part), not text."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class PhotoUploadSchema(ma.Schema):
    """A photo upload: one multipart/form-data body with the file and its caption."""

    file = FileUpload(required=True, **sf.about("A JPEG, PNG or WebP photo"))
    caption = sf.text(500, "Caption shown with the photo (at most 500 characters)")


class ProposalSchema(ma.Schema):
    """A housing offer proposed to a household: proposed → shown → accepted, or declined or
    withdrawn. Accepting takes places for the household's present members."""

    id = sf.client_id()
    household_id = sf.read_only(fields.UUID, "Set by the server: the household it is proposed to")
    offer_id = fields.UUID(
        required=True,
        **sf.about("The offer proposed: `available`, and not already open for this household"),
    )
    status = sf.code(
        PROPOSAL_STATUSES,
        "Set by the server: changed by the show, accept, decline, withdraw actions",
        dump_only=True,
    )
    notes = sf.text(sf.MAX_TEXT, sf.FREE_TEXT, allow_none=True)
    places = sf.read_only_or_null(
        fields.Integer,
        "Places held on the offer while accepted (the household's present members when"
        " accepted); null otherwise",
    )
    decided_at = sf.read_only_or_null(
        fields.AwareDateTime, "When it was accepted, declined or withdrawn (UTC); null before"
    )
    reason = sf.read_only_or_null(fields.String, "Why it was declined or withdrawn; null otherwise")


class DeclineSchema(ma.Schema):
    """The family declines the offer; places they held are given back."""

    reason = sf.required_reason("Why they decline (required; at most 4000 characters)")


class WithdrawSchema(ma.Schema):
    """The team withdraws the proposal; places it held are given back."""

    reason = sf.text(
        sf.MAX_TEXT, "Why, if the team wants to say (at most 4000 characters)", allow_none=True
    )


# --- an example for the document (fictional places and people) ---------------------------

HOUSING_OFFER_EXAMPLE = {
    "title": "Two-room flat near the station",
    "kind": "apartment",
    "locality": "Westbrook",
    "address": "12 Orchard Lane, flat 5, second floor",
    "capacity": 4,
    "rooms": 2,
    "monthly_rent": "0.00",
    "currency": "UAH",
    "step_free": False,
    "pets_allowed": True,
    "available_from": "2026-11-20",
    "available_until": "2027-03-31",
    "provider_name": "Westbrook volunteer housing desk",
    "provider_contact": "+000 55 0100 456",
    "notes": "Furnished; the neighbours downstairs speak the family's language.",
}
