"""Helpers for the housing tests: URLs, stored state read back, and uploads."""

from __future__ import annotations

import io

import sqlalchemy as sa

from app.extensions import db
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal
from tests.http_helpers import etag_of

OFFERS = "/api/v1/housing-offers"


def offer_url(offer) -> str:
    return f"{OFFERS}/{offer if isinstance(offer, str) else offer.id}"


def photos_url(offer) -> str:
    return f"{offer_url(offer)}/photos"


def proposals_url(household) -> str:
    return f"/api/v1/households/{household.id}/housing-proposals"


def matches_url(household) -> str:
    return f"/api/v1/households/{household.id}/housing-matches"


def action_url(proposal, action: str) -> str:
    proposal_id = proposal if isinstance(proposal, str) else proposal.id
    return f"/api/v1/housing-proposals/{proposal_id}/{action}"


def withdraw(api, offer):
    """Withdraw ``offer`` through the API as ``api``, with the ETag it has now."""
    url = offer_url(offer)
    headers = {"If-Match": etag_of(api, url)}
    response = api.patch(url, json={"status": "withdrawn"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def stored_offer(app, offer) -> HousingOffer:
    with app.app_context():
        return db.session.get(HousingOffer, offer.id)


def stored_proposal(app, proposal) -> HousingProposal:
    with app.app_context():
        return db.session.get(HousingProposal, proposal.id)


def stored_photos(app) -> list[HousingPhoto]:
    with app.app_context():
        return list(db.session.scalars(sa.select(HousingPhoto)))


def upload(
    api,
    offer,
    raw: bytes,
    name: str = "photo.jpg",
    caption: str | None = "Kitchen",
    content_type: str | None = None,
):
    """Upload ``raw`` as a photo of ``offer`` the way a browser form does."""
    file = (io.BytesIO(raw), name, content_type) if content_type else (io.BytesIO(raw), name)
    data = {"file": file}
    if caption is not None:
        data["caption"] = caption
    return api.client.post(
        photos_url(offer),
        data=data,
        headers=api._headers(None),
        content_type="multipart/form-data",
    )


def code(response) -> str | None:
    return response.get_json().get("code")
