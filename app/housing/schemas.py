from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from werkzeug.datastructures import FileStorage

from app.housing.models import KINDS, OFFER_STATUSES, PHOTO_TYPES, PROPOSAL_STATUSES
from app.http import CLIENT_ID_DESCRIPTION, NOT_BLANK, VERSION_DESCRIPTION, PageArgsSchema

MAX_RENT = 10_000_000


def _rent_in_range(value) -> None:
    # a callable, not validate.Range: apispec would write a Decimal bound as a string
    if not 0 <= value <= MAX_RENT:
        raise ma.ValidationError(f"Must be between 0 and {MAX_RENT}.")


def _about(description: str) -> dict:
    return {"metadata": {"description": description}}


TITLE = "Short title the family recognises, e.g. 'Two-room flat near the station'"
KIND = "What sort of place it is"
LOCALITY = "Town or village where it is (1-120 characters)"
CAPACITY = "How many people it takes (1-1000); never below the places accepted proposals hold"


class PhotoSchema(ma.Schema):
    """A photo of a housing offer, so a family can see where they would live. Download it
    from /housing-offers/{offer_id}/photos/{photo_id}."""

    id = fields.UUID(**_about("Set by the server: the photo's id"))
    content_type = fields.String(
        validate=validate.OneOf(PHOTO_TYPES), **_about("Media type of the stored image")
    )
    width = fields.Integer(**_about("Width in pixels"))
    height = fields.Integer(**_about("Height in pixels"))
    caption = fields.String(allow_none=True, **_about("Caption given at upload; null if none"))


class HousingOfferSchema(ma.Schema):
    """A place to live found in advance (an apartment, a room, a shelter place), with
    photos, so a family can see where they would live before deciding. Managed by
    coordinators."""

    id = fields.UUID(metadata={"description": CLIENT_ID_DESCRIPTION})
    title = fields.String(
        required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK], **_about(TITLE)
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS), **_about(KIND))
    locality = fields.String(
        required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK], **_about(LOCALITY)
    )
    address = fields.String(
        allow_none=True, validate=validate.Length(max=4000), **_about("Street address")
    )
    capacity = fields.Integer(
        required=True, validate=validate.Range(min=1, max=1000), **_about(CAPACITY)
    )
    free_capacity = fields.Integer(
        dump_only=True,
        **_about("Set by the server: places not held by accepted proposals"),
    )
    rooms = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=0, max=1000),
        **_about("Number of rooms (0-1000)"),
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
        **_about("ISO 4217 code of the rent's currency, e.g. `UAH` (the default)"),
    )
    step_free = fields.Boolean(
        **_about(
            "Reachable without steps; households with someone who cannot walk or walks with"
            " help are matched only to such offers. false when not given"
        )
    )
    pets_allowed = fields.Boolean(**_about("Pets are welcome; false when not given"))
    available_from = fields.Date(
        allow_none=True, **_about("First day it can be moved into; null: now")
    )
    available_until = fields.Date(
        allow_none=True,
        **_about("Last day it is offered, not before `available_from`; null: no end"),
    )
    provider_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        **_about("Who offers it: a landlord, a parish, a shelter"),
    )
    provider_contact = fields.String(
        allow_none=True, validate=validate.Length(max=200), **_about("How to reach the provider")
    )
    notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=4000),
        **_about("Free text (at most 4000 characters)"),
    )
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(OFFER_STATUSES),
        **_about(
            "Set by the server: `available`; `reserved` while accepted proposals fill it;"
            " `occupied` once a family who accepted it has arrived; `withdrawn`"
        ),
    )
    photos = fields.List(
        fields.Nested(PhotoSchema),
        dump_only=True,
        **_about("Set by the server: the photos uploaded to /housing-offers/{id}/photos"),
    )
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))


class HousingOfferUpdateSchema(HousingOfferSchema):
    """Changes to an offer: only the fields sent change. Send `If-Match`. A withdrawn or
    occupied offer no longer changes."""

    class Meta:
        exclude = ("id",)

    title = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK], **_about(TITLE))
    kind = fields.String(validate=validate.OneOf(KINDS), **_about(KIND))
    locality = fields.String(
        validate=[validate.Length(min=1, max=120), NOT_BLANK], **_about(LOCALITY)
    )
    capacity = fields.Integer(validate=validate.Range(min=1, max=1000), **_about(CAPACITY))
    status = fields.String(
        validate=validate.OneOf(("withdrawn",)),
        metadata={
            "description": "Send `withdrawn` to withdraw the offer (it stays on record; its"
            " open proposals are withdrawn too). The other statuses are the server's"
        },
    )


class HousingOfferQueryArgsSchema(PageArgsSchema):
    """Filters of the housing offer list; all given must hold."""

    status = fields.String(
        validate=validate.OneOf(OFFER_STATUSES), **_about("Only offers with this status")
    )
    locality = fields.String(
        validate=validate.Length(min=1, max=120),
        **_about("Offers whose locality contains this text, ignoring case"),
    )


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

    file = FileUpload(required=True, metadata={"description": "A JPEG, PNG or WebP photo"})
    caption = fields.String(
        validate=validate.Length(max=500),
        **_about("Caption shown with the photo (at most 500 characters)"),
    )


class ProposalSchema(ma.Schema):
    """A housing offer proposed to a household: proposed → shown → accepted, or declined or
    withdrawn. Accepting takes places for the household's present members."""

    id = fields.UUID(metadata={"description": CLIENT_ID_DESCRIPTION})
    household_id = fields.UUID(
        dump_only=True, **_about("Set by the server: the household it is proposed to")
    )
    offer_id = fields.UUID(
        required=True,
        **_about("The offer proposed: `available`, and not already open for this household"),
    )
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(PROPOSAL_STATUSES),
        **_about("Set by the server: changed by the show, accept, decline, withdraw actions"),
    )
    notes = fields.String(
        allow_none=True,
        validate=validate.Length(max=4000),
        **_about("Free text (at most 4000 characters)"),
    )
    places = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Places held on the offer while accepted (the household's present"
            " members when accepted); null otherwise"
        },
    )
    decided_at = fields.AwareDateTime(
        dump_only=True,
        allow_none=True,
        **_about("When it was accepted, declined or withdrawn (UTC); null before"),
    )
    reason = fields.String(
        dump_only=True,
        allow_none=True,
        **_about("Why it was declined or withdrawn; null otherwise"),
    )


class DeclineSchema(ma.Schema):
    """The family declines the offer; places they held are given back."""

    reason = fields.String(
        required=True,
        validate=[validate.Length(max=4000), NOT_BLANK],
        **_about("Why they decline (required; at most 4000 characters)"),
    )


class WithdrawSchema(ma.Schema):
    """The team withdraws the proposal; places it held are given back."""

    reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=4000),
        **_about("Why, if the team wants to say (at most 4000 characters)"),
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
