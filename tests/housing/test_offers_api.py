"""Housing offers through the HTTP API: create, change with If-Match, withdraw, list."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.conftest import png_bytes, staff_shared_by_the_module
from tests.housing.helpers import (
    OFFERS,
    action_url,
    code,
    offer_url,
    photos_url,
    stored_offer,
    stored_photos,
    stored_proposal,
    upload,
    withdraw,
)
from tests.http_helpers import etag_of

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

FULL_OFFER = {
    "title": "Two rooms above the bakery",
    "kind": "apartment",
    "locality": "Westbank",
    "address": "12 Mill Street, 2nd floor",
    "capacity": 5,
    "rooms": 2,
    "monthly_rent": "1500.50",
    "currency": "EUR",
    "step_free": True,
    "pets_allowed": False,
    "available_from": "2030-01-01",
    "available_until": "2030-06-30",
    "provider_name": "Olena",
    "provider_contact": "+380 50 111 2233",
    "notes": "Keys with the neighbour",
}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


# --- create ------------------------------------------------------------------------------


def test_coordinator_creates_offer(as_coordinator):
    response = as_coordinator.post(OFFERS, json=FULL_OFFER)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in FULL_OFFER} == FULL_OFFER
    assert body["status"] == "available"
    assert body["free_capacity"] == body["capacity"] == 5
    assert body["photos"] == []
    assert body["version"] == 1
    assert response.headers["Location"] == offer_url(body["id"])

    fetched = as_coordinator.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == body
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_defaults_rent_is_a_free_decimal_string(as_coordinator):
    response = as_coordinator.post(
        OFFERS,
        json={
            "title": "Bed in a dormitory",
            "kind": "dormitory",
            "locality": "Lviv",
            "capacity": 1,
        },
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["monthly_rent"] == "0.00"
    assert body["step_free"] is False
    assert body["pets_allowed"] is False
    assert body["available_from"] is None


def test_client_chosen_id_is_kept(as_coordinator):
    chosen = str(uuid.uuid4())
    response = as_coordinator.post(OFFERS, json={**FULL_OFFER, "id": chosen})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["id"] == chosen


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"available_from": "2030-02-01", "available_until": "2030-01-31"}, "available_until"),
        ({"capacity": 0}, "capacity"),
        ({"monthly_rent": "-1"}, "monthly_rent"),
        ({"kind": "castle"}, "kind"),
        ({"title": "   "}, "title"),
        ({"status": "reserved"}, "status"),
        ({"taken": 3}, "taken"),
    ],
)
def test_invalid_offer_is_422(as_coordinator, changes, field):
    response = as_coordinator.post(OFFERS, json={**FULL_OFFER, **changes})

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert ids(as_coordinator.get(OFFERS)) == []


def test_missing_required_fields_are_422(as_coordinator):
    response = as_coordinator.post(OFFERS, json={})

    assert response.status_code == 422
    assert {"title", "kind", "locality", "capacity"} <= set(response.get_json()["errors"])


# --- roles -------------------------------------------------------------------------------


def test_field_worker_reads_offers_and_photos(as_field_worker, make_offer, make_photo):
    offer = make_offer(title="Room with a view")
    photo = make_photo(offer, caption="Window")

    listed = as_field_worker.get(OFFERS)
    one = as_field_worker.get(offer_url(offer))
    image = as_field_worker.get(f"{photos_url(offer)}/{photo.id}")

    assert ids(listed) == [str(offer.id)]
    assert one.status_code == 200
    assert one.get_json()["photos"] == [
        {
            "id": str(photo.id),
            "content_type": "image/png",
            "width": 8,
            "height": 6,
            "caption": "Window",
        }
    ]
    assert image.status_code == 200
    assert image.mimetype == "image/png"


def test_field_worker_may_not_change_offers(as_field_worker, make_offer, make_photo, app):
    offer = make_offer(title="Room with a view")
    photo = make_photo(offer)

    created = as_field_worker.post(OFFERS, json=FULL_OFFER)
    changed = as_field_worker.patch(
        offer_url(offer), json={"title": "Mine now"}, headers={"If-Match": '"1"'}
    )
    uploaded = upload(as_field_worker, offer, png_bytes(colour=(1, 2, 3)))
    deleted = as_field_worker.delete(f"{photos_url(offer)}/{photo.id}")

    assert [r.status_code for r in (created, changed, uploaded, deleted)] == [403] * 4
    assert ids(as_field_worker.get(OFFERS)) == [str(offer.id)]
    assert stored_offer(app, offer).title == "Room with a view"
    assert [p.id for p in stored_photos(app)] == [photo.id]


def test_admin_has_no_access_to_offers(as_admin, make_offer, make_photo):
    offer = make_offer()
    photo = make_photo(offer)

    responses = [
        as_admin.get(OFFERS),
        as_admin.get(offer_url(offer)),
        as_admin.post(OFFERS, json=FULL_OFFER),
        as_admin.patch(offer_url(offer), json={"title": "x"}, headers={"If-Match": '"1"'}),
        as_admin.get(f"{photos_url(offer)}/{photo.id}"),
        upload(as_admin, offer, png_bytes()),
        as_admin.delete(f"{photos_url(offer)}/{photo.id}"),
    ]

    assert [r.status_code for r in responses] == [403] * len(responses)


def test_anonymous_is_401(anonymous, make_offer):
    offer = make_offer()

    assert anonymous.get(OFFERS).status_code == 401
    assert anonymous.get(offer_url(offer)).status_code == 401
    assert anonymous.post(OFFERS, json=FULL_OFFER).status_code == 401


def test_unknown_offer_is_404(as_field_worker):
    assert as_field_worker.get(offer_url(str(uuid.uuid4()))).status_code == 404


# --- update ------------------------------------------------------------------------------


def test_update_needs_current_if_match(as_coordinator, make_offer, app):
    offer = make_offer(title="Old title")
    current = etag_of(as_coordinator, offer_url(offer))

    missing = as_coordinator.patch(offer_url(offer), json={"title": "New title"})
    stale = as_coordinator.patch(
        offer_url(offer), json={"title": "New title"}, headers={"If-Match": '"7"'}
    )

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert stale.headers["ETag"] == current
    assert stored_offer(app, offer).title == "Old title"

    response = as_coordinator.patch(
        offer_url(offer),
        json={"title": "New title", "monthly_rent": "250", "pets_allowed": True},
        headers={"If-Match": current},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["title"], body["monthly_rent"], body["pets_allowed"]) == (
        "New title",
        "250.00",
        True,
    )
    assert body["version"] == 2
    assert response.headers["ETag"] != current
    fetched = as_coordinator.get(offer_url(offer))
    assert fetched.get_json() == body
    assert fetched.headers["ETag"] == response.headers["ETag"]

    again = as_coordinator.patch(
        offer_url(offer), json={"title": "Newer"}, headers={"If-Match": current}
    )
    assert again.status_code == 412


def test_update_cannot_end_before_start(as_coordinator, make_offer, app):
    offer = make_offer(available_from=dt.date(2030, 5, 1))

    url = offer_url(offer)
    headers = {"If-Match": etag_of(as_coordinator, url)}
    response = as_coordinator.patch(url, json={"available_until": "2030-04-30"}, headers=headers)

    assert response.status_code == 422
    assert "available_until" in response.get_json()["errors"]
    assert stored_offer(app, offer).available_until is None


def test_lowering_capacity_below_taken_places_is_409(
    as_coordinator, make_offer, make_household, make_person, make_proposal, app
):
    offer = make_offer(capacity=5)
    household = make_household()
    for _ in range(3):
        make_person(household)
    proposal = make_proposal(household, offer)
    assert as_coordinator.post(action_url(proposal, "accept"), json={}).status_code == 200
    version = as_coordinator.get(offer_url(offer)).headers["ETag"]

    too_low = as_coordinator.patch(
        offer_url(offer), json={"capacity": 2}, headers={"If-Match": version}
    )

    assert too_low.status_code == 409
    assert code(too_low) == "capacity_exceeded"
    assert stored_offer(app, offer).capacity == 5

    exact = as_coordinator.patch(
        offer_url(offer), json={"capacity": 3}, headers={"If-Match": version}
    )

    assert exact.status_code == 200, exact.get_json()
    assert (exact.get_json()["free_capacity"], exact.get_json()["status"]) == (0, "reserved")

    raised = as_coordinator.patch(
        offer_url(offer), json={"capacity": 4}, headers={"If-Match": exact.headers["ETag"]}
    )

    assert raised.status_code == 200, raised.get_json()
    assert (raised.get_json()["free_capacity"], raised.get_json()["status"]) == (1, "available")


# --- withdraw ----------------------------------------------------------------------------


def test_withdrawing_offer_withdraws_open_proposals(
    as_coordinator, make_offer, make_household, make_person, make_proposal, app
):
    offer = make_offer()
    other_offer = make_offer()
    first, second, third = make_household(), make_household(), make_household()
    for household in (first, second, third):
        make_person(household)
    proposed = make_proposal(first, offer)
    shown = make_proposal(second, offer)
    as_coordinator.post(action_url(shown, "show"), json={})
    declined = make_proposal(third, offer)
    as_coordinator.post(action_url(declined, "decline"), json={"reason": "Too far"})
    elsewhere = make_proposal(first, other_offer)

    response = withdraw(as_coordinator, offer)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "withdrawn"
    assert stored_proposal(app, proposed).status == "withdrawn"
    assert stored_proposal(app, shown).status == "withdrawn"
    assert stored_proposal(app, declined).status == "declined"
    assert stored_proposal(app, declined).reason == "Too far"
    assert stored_proposal(app, elsewhere).status == "proposed"

    listed = as_coordinator.get(f"/api/v1/households/{first.id}/housing-proposals")
    by_offer = {item["offer_id"]: item for item in listed.get_json()["items"]}
    assert by_offer[str(offer.id)]["status"] == "withdrawn"
    assert by_offer[str(offer.id)]["decided_at"] is not None

    changed = as_coordinator.patch(
        offer_url(offer),
        json={"title": "Back again"},
        headers={"If-Match": response.headers["ETag"]},
    )
    assert changed.status_code == 409
    assert code(changed) == "invalid_transition"


def test_withdrawing_offer_with_accepted_proposal_is_409(
    as_coordinator, make_offer, make_household, make_person, make_proposal, app
):
    offer = make_offer(capacity=4)
    household, waiting = make_household(), make_household()
    make_person(household)
    make_person(waiting)
    accepted = make_proposal(household, offer)
    assert as_coordinator.post(action_url(accepted, "accept"), json={}).status_code == 200
    open_one = make_proposal(waiting, offer)
    version = as_coordinator.get(offer_url(offer)).headers["ETag"]

    response = as_coordinator.patch(
        offer_url(offer), json={"status": "withdrawn"}, headers={"If-Match": version}
    )

    assert response.status_code == 409
    assert code(response) == "invalid_transition"
    assert stored_offer(app, offer).status == "available"
    assert stored_proposal(app, accepted).status == "accepted"
    assert stored_proposal(app, open_one).status == "proposed"


def test_offer_status_cannot_be_set_except_withdrawn(as_coordinator, make_offer, app):
    offer = make_offer()

    url = offer_url(offer)
    headers = {"If-Match": etag_of(as_coordinator, url)}
    response = as_coordinator.patch(url, json={"status": "occupied"}, headers=headers)

    assert response.status_code == 422
    assert stored_offer(app, offer).status == "available"


# --- list --------------------------------------------------------------------------------


def test_list_is_paginated_newest_first(as_field_worker, make_offer):
    made = [str(make_offer(title=f"Offer {i}").id) for i in range(5)]

    first = as_field_worker.get(f"{OFFERS}?limit=2")
    cursor = first.get_json()["next_cursor"]
    second = as_field_worker.get(f"{OFFERS}?limit=2&cursor={cursor}")
    cursor = second.get_json()["next_cursor"]
    third = as_field_worker.get(f"{OFFERS}?limit=2&cursor={cursor}")

    assert ids(first) + ids(second) + ids(third) == list(reversed(made))
    assert third.get_json()["next_cursor"] is None


def test_list_filters_by_status(as_coordinator, make_offer):
    available = make_offer(title="Still open")
    withdrawn = make_offer(title="Gone")
    withdraw(as_coordinator, withdrawn)

    assert ids(as_coordinator.get(f"{OFFERS}?status=available")) == [str(available.id)]
    assert ids(as_coordinator.get(f"{OFFERS}?status=withdrawn")) == [str(withdrawn.id)]
    assert ids(as_coordinator.get(f"{OFFERS}?status=reserved")) == []
    assert as_coordinator.get(f"{OFFERS}?status=lost").status_code == 422
    assert as_coordinator.get(f"{OFFERS}?limit=201").status_code == 422


def test_list_loads_photos_without_n_plus_one(
    as_coordinator, make_offer, make_photo, count_queries
):
    for i in range(3):
        make_photo(make_offer(title=f"Offer {i}"))
    small = as_coordinator.get(f"{OFFERS}?limit=1")
    assert small.status_code == 200

    with count_queries() as one:
        as_coordinator.get(f"{OFFERS}?limit=1")
    with count_queries() as three:
        response = as_coordinator.get(OFFERS)

    assert [len(item["photos"]) for item in response.get_json()["items"]] == [1, 1, 1]
    assert three.count == one.count
