"""Matching offers to a household, and proposals from proposed to accepted or declined."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from app.errors import Conflict
from app.extensions import db
from app.housing import proposals
from tests.conftest import staff_shared_by_the_module
from tests.housing.helpers import (
    action_url,
    code,
    matches_url,
    offer_url,
    proposals_url,
    stored_offer,
    stored_proposal,
    withdraw,
)

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


def family(make_household, make_person, size: int, team=None, **fields):
    """A household of ``size`` present members (adults unless told otherwise)."""
    household = make_household(**({"team": team} if team else {}), **fields)
    for _ in range(size):
        make_person(household)
    return household


def offer_state(api, offer) -> tuple[int, str]:
    body = api.get(offer_url(offer)).get_json()
    return body["free_capacity"], body["status"]


# --- matches -----------------------------------------------------------------------------


def test_matches_need_room_for_present_members(
    as_field_worker, make_household, make_person, make_offer, make_proposal, as_coordinator
):
    household = family(make_household, make_person, 3)
    make_person(household, status="left")
    make_person(household, status="missing")
    make_offer(title="Three places", capacity=3)
    make_offer(title="Two places", capacity=2)
    partly_taken = make_offer(title="Five places, three taken", capacity=5)
    neighbours = family(make_household, make_person, 3)
    accepted = make_proposal(neighbours, partly_taken)
    assert as_coordinator.post(action_url(accepted, "accept"), json={}).status_code == 200
    withdrawn = make_offer(title="Withdrawn", capacity=6)
    withdraw(as_coordinator, withdrawn)
    full = make_offer(title="Full", capacity=3)
    filling = make_proposal(family(make_household, make_person, 3), full)
    assert as_coordinator.post(action_url(filling, "accept"), json={}).status_code == 200
    make_offer(title="Ended", capacity=4, available_until=dt.date(2000, 1, 1))

    response = as_field_worker.get(matches_url(household))

    assert names(response) == ["Three places"]
    assert response.get_json()["items"][0]["free_capacity"] == 3


def test_step_free_needed_when_someone_cannot_walk_unaided(
    as_field_worker, make_household, make_person, make_offer
):
    walking = family(make_household, make_person, 1)
    make_person(walking, mobility="walks")
    with_help = family(make_household, make_person, 1)
    make_person(with_help, mobility="walks_with_help")
    wheelchair = family(make_household, make_person, 1)
    make_person(wheelchair, mobility="cannot_walk")
    gone = family(make_household, make_person, 1)
    make_person(gone, mobility="cannot_walk", status="left")
    make_offer(title="Stairs", capacity=2)
    make_offer(title="Ground floor", capacity=2, step_free=True)

    assert sorted(names(as_field_worker.get(matches_url(walking)))) == ["Ground floor", "Stairs"]
    assert names(as_field_worker.get(matches_url(with_help))) == ["Ground floor"]
    assert names(as_field_worker.get(matches_url(wheelchair))) == ["Ground floor"]
    assert sorted(names(as_field_worker.get(matches_url(gone)))) == ["Ground floor", "Stairs"]


def test_rent_free_needed_when_household_needs_rent_money(
    as_field_worker, make_household, make_person, make_offer
):
    poor = family(make_household, make_person, 2, needs=["rent_money"])
    other = family(make_household, make_person, 2, needs=["transport_money"])
    make_offer(title="Free", capacity=2)
    make_offer(title="Cheap", capacity=2, monthly_rent=decimal.Decimal("0.01"))

    assert names(as_field_worker.get(matches_url(poor))) == ["Free"]
    assert names(as_field_worker.get(matches_url(other))) == ["Free", "Cheap"]


def test_pets_allowed_needed_when_household_has_pets(
    as_field_worker, make_household, make_person, make_offer
):
    with_dog = family(make_household, make_person, 1, needs=["pets"])
    make_offer(title="No pets", capacity=1)
    make_offer(title="Dog welcome", capacity=1, pets_allowed=True)

    assert names(as_field_worker.get(matches_url(with_dog))) == ["Dog welcome"]


def test_all_needs_together(as_field_worker, make_household, make_person, make_offer):
    household = family(make_household, make_person, 1, needs=["pets", "rent_money"])
    make_person(household, age=80, mobility="walks_with_help")
    make_offer(title="Everything", capacity=2, step_free=True, pets_allowed=True)
    make_offer(title="No pets", capacity=2, step_free=True)
    make_offer(title="Stairs", capacity=2, pets_allowed=True)
    make_offer(title="Rent", capacity=2, step_free=True, pets_allowed=True, monthly_rent=100)

    assert names(as_field_worker.get(matches_url(household))) == ["Everything"]


def test_best_fit_first_then_cheaper(as_field_worker, make_household, make_person, make_offer):
    household = family(make_household, make_person, 2)
    make_offer(title="Big free", capacity=6)
    make_offer(title="Snug dear", capacity=2, monthly_rent=900)
    make_offer(title="Snug cheap", capacity=2, monthly_rent=300)
    make_offer(title="Three free", capacity=3)
    make_offer(title="Too small", capacity=1)

    first = as_field_worker.get(f"{matches_url(household)}?limit=2")
    second = as_field_worker.get(
        f"{matches_url(household)}?limit=2&cursor={first.get_json()['next_cursor']}"
    )

    assert names(first) + names(second) == ["Snug cheap", "Snug dear", "Three free", "Big free"]
    assert second.get_json()["next_cursor"] is None


def test_matches_of_another_teams_household_are_404(
    as_field_worker,
    as_other_field_worker,
    as_admin,
    make_household,
    make_person,
    make_offer,
    other_team,
):
    household = family(make_household, make_person, 1, team=other_team)
    make_offer(title="Anything")

    assert as_field_worker.get(matches_url(household)).status_code == 404
    assert names(as_other_field_worker.get(matches_url(household))) == ["Anything"]
    assert as_admin.get(matches_url(household)).status_code == 403


# --- proposing ---------------------------------------------------------------------------


def test_field_worker_proposes_an_offer(
    as_field_worker, make_household, make_person, make_offer, app
):
    household = family(make_household, make_person, 2)
    offer = make_offer()

    response = as_field_worker.post(
        proposals_url(household), json={"offer_id": str(offer.id), "notes": "Near the school"}
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "proposed"
    assert (body["household_id"], body["offer_id"]) == (str(household.id), str(offer.id))
    assert body["notes"] == "Near the school"
    assert body["decided_at"] is None
    assert body["places"] is None
    listed = as_field_worker.get(proposals_url(household)).get_json()["items"]
    assert listed == [body]
    assert offer_state(as_field_worker, offer) == (4, "available")


def test_duplicate_open_proposal_is_409(
    as_field_worker, make_household, make_person, make_offer, make_proposal
):
    household = family(make_household, make_person, 2)
    offer = make_offer()
    first = make_proposal(household, offer)

    again = as_field_worker.post(proposals_url(household), json={"offer_id": str(offer.id)})

    assert again.status_code == 409
    as_field_worker.post(action_url(first, "decline"), json={"reason": "Too far"})
    after_decline = as_field_worker.post(proposals_url(household), json={"offer_id": str(offer.id)})
    assert after_decline.status_code == 201, after_decline.get_json()
    assert len(as_field_worker.get(proposals_url(household)).get_json()["items"]) == 2


def test_proposing_withdrawn_or_reserved_offer_is_409(
    as_field_worker, as_coordinator, make_household, make_person, make_offer, make_proposal
):
    household = family(make_household, make_person, 1)
    withdrawn = make_offer(title="Withdrawn")
    withdraw(as_coordinator, withdrawn)
    reserved = make_offer(title="Reserved", capacity=2)
    neighbours = family(make_household, make_person, 2)
    accepted = make_proposal(neighbours, reserved)
    assert as_field_worker.post(action_url(accepted, "accept"), json={}).status_code == 200
    assert offer_state(as_field_worker, reserved) == (0, "reserved")

    for offer in (withdrawn, reserved):
        response = as_field_worker.post(proposals_url(household), json={"offer_id": str(offer.id)})
        assert response.status_code == 409, response.get_json()
    assert as_field_worker.get(proposals_url(household)).get_json()["items"] == []


def test_proposing_unknown_offer_is_422(as_field_worker, make_household):
    household = make_household()

    response = as_field_worker.post(proposals_url(household), json={"offer_id": str(uuid.uuid4())})

    assert response.status_code == 422
    assert "offer_id" in response.get_json()["errors"]


def test_proposals_of_another_teams_household_are_404(
    as_field_worker,
    as_other_field_worker,
    make_household,
    make_person,
    make_offer,
    make_proposal,
    other_team,
    app,
):
    household = family(make_household, make_person, 1, team=other_team)
    offer = make_offer()
    proposal = make_proposal(household, offer)

    assert as_field_worker.get(proposals_url(household)).status_code == 404
    assert (
        as_field_worker.post(proposals_url(household), json={"offer_id": str(offer.id)}).status_code
        == 404
    )
    actions = [("show", {}), ("accept", {}), ("decline", {"reason": "no"}), ("withdraw", {})]
    for action, body in actions:
        response = as_field_worker.post(action_url(proposal, action), json=body)
        assert response.status_code == 404, action
    assert stored_proposal(app, proposal).status == "proposed"
    assert offer_state(as_field_worker, offer) == (4, "available")

    assert as_other_field_worker.post(action_url(proposal, "show"), json={}).status_code == 200


def test_admin_may_not_touch_proposals(as_admin, make_household, make_offer, make_proposal):
    household = make_household()
    proposal = make_proposal(household, make_offer())

    assert as_admin.get(proposals_url(household)).status_code == 403
    assert as_admin.post(action_url(proposal, "show"), json={}).status_code == 403


def test_unknown_proposal_is_404(as_coordinator):
    assert as_coordinator.post(action_url(str(uuid.uuid4()), "show"), json={}).status_code == 404


# --- transitions -------------------------------------------------------------------------


def test_show_then_accept_takes_present_members_places(
    as_field_worker, make_household, make_person, make_offer, make_proposal, app
):
    household = family(make_household, make_person, 3)
    make_person(household, status="left")
    offer = make_offer(capacity=5)
    proposal = make_proposal(household, offer)

    shown = as_field_worker.post(action_url(proposal, "show"), json={})

    assert shown.status_code == 200, shown.get_json()
    assert shown.get_json()["status"] == "shown"
    assert shown.get_json()["decided_at"] is None

    accepted = as_field_worker.post(action_url(proposal, "accept"), json={})

    assert accepted.status_code == 200, accepted.get_json()
    body = accepted.get_json()
    assert (body["status"], body["places"]) == ("accepted", 3)
    assert body["decided_at"] is not None
    assert offer_state(as_field_worker, offer) == (2, "available")
    assert stored_offer(app, offer).taken == 3


def test_accept_straight_from_proposed_filling_the_offer_reserves_it(
    as_field_worker, make_household, make_person, make_offer, make_proposal
):
    household = family(make_household, make_person, 4)
    offer = make_offer(capacity=4)
    proposal = make_proposal(household, offer)

    response = as_field_worker.post(action_url(proposal, "accept"))

    assert response.status_code == 200, response.get_json()
    assert offer_state(as_field_worker, offer) == (0, "reserved")


def test_decline_needs_a_reason_and_gives_places_back(
    as_field_worker, make_household, make_person, make_offer, make_proposal, app
):
    household = family(make_household, make_person, 2)
    offer = make_offer(capacity=2)
    proposal = make_proposal(household, offer)
    as_field_worker.post(action_url(proposal, "accept"), json={})
    assert offer_state(as_field_worker, offer) == (0, "reserved")

    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = as_field_worker.post(action_url(proposal, "decline"), json=body)
        assert response.status_code == 422, body
        assert "reason" in response.get_json()["errors"]
    assert stored_proposal(app, proposal).status == "accepted"

    response = as_field_worker.post(
        action_url(proposal, "decline"), json={"reason": "They found a place with relatives"}
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["reason"], body["places"]) == (
        "declined",
        "They found a place with relatives",
        None,
    )
    assert offer_state(as_field_worker, offer) == (2, "available")


def test_decline_before_accepting_changes_no_capacity(
    as_field_worker, make_household, make_person, make_offer, make_proposal
):
    household = family(make_household, make_person, 2)
    offer = make_offer(capacity=3)
    proposal = make_proposal(household, offer)

    response = as_field_worker.post(action_url(proposal, "decline"), json={"reason": "Too far"})

    assert response.status_code == 200
    assert offer_state(as_field_worker, offer) == (3, "available")


def test_withdraw_gives_places_back(
    as_field_worker, make_household, make_person, make_offer, make_proposal, app
):
    household = family(make_household, make_person, 3)
    offer = make_offer(capacity=3)
    proposal = make_proposal(household, offer)
    as_field_worker.post(action_url(proposal, "accept"), json={})
    assert offer_state(as_field_worker, offer) == (0, "reserved")

    response = as_field_worker.post(action_url(proposal, "withdraw"), json={})

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["status"], response.get_json()["reason"]) == ("withdrawn", None)
    assert offer_state(as_field_worker, offer) == (3, "available")
    assert stored_offer(app, offer).taken == 0

    other = make_proposal(family(make_household, make_person, 1), offer)
    with_reason = as_field_worker.post(
        action_url(other, "withdraw"), json={"reason": "Offer no longer suits"}
    )
    assert with_reason.get_json()["reason"] == "Offer no longer suits"


@pytest.mark.parametrize(
    ("path", "action", "body"),
    [
        (["decline"], "accept", {}),
        (["decline"], "show", {}),
        (["decline"], "withdraw", {}),
        (["accept"], "show", {}),
        (["accept"], "accept", {}),
        (["show"], "show", {}),
        (["withdraw"], "accept", {}),
        (["withdraw"], "decline", {"reason": "x"}),
        (["withdraw"], "withdraw", {}),
    ],
)
def test_invalid_transitions_are_409(
    as_field_worker,
    make_household,
    make_person,
    make_offer,
    make_proposal,
    app,
    path,
    action,
    body,
):
    household = family(make_household, make_person, 2)
    offer = make_offer(capacity=4)
    proposal = make_proposal(household, offer)
    for step in path:
        payload = {"reason": "Too far"} if step == "decline" else {}
        assert as_field_worker.post(action_url(proposal, step), json=payload).status_code == 200
    before = stored_proposal(app, proposal)
    capacity_before = offer_state(as_field_worker, offer)

    response = as_field_worker.post(action_url(proposal, action), json=body)

    assert response.status_code == 409, response.get_json()
    assert code(response) == "invalid_transition"
    after = stored_proposal(app, proposal)
    assert (after.status, after.places, after.reason) == (
        before.status,
        before.places,
        before.reason,
    )
    assert offer_state(as_field_worker, offer) == capacity_before


def test_household_cannot_hold_two_accepted_proposals(
    as_field_worker, make_household, make_person, make_offer, make_proposal, app
):
    household = family(make_household, make_person, 2)
    first_offer, second_offer = make_offer(title="First"), make_offer(title="Second")
    first = make_proposal(household, first_offer)
    second = make_proposal(household, second_offer)
    assert as_field_worker.post(action_url(first, "accept"), json={}).status_code == 200

    response = as_field_worker.post(action_url(second, "accept"), json={})

    assert response.status_code == 409
    assert stored_proposal(app, second).status == "proposed"
    assert offer_state(as_field_worker, second_offer) == (4, "available")

    as_field_worker.post(action_url(first, "withdraw"), json={"reason": "Prefer the second"})
    assert as_field_worker.post(action_url(second, "accept"), json={}).status_code == 200
    assert offer_state(as_field_worker, first_offer) == (4, "available")
    assert offer_state(as_field_worker, second_offer) == (2, "available")


def test_accept_beyond_free_capacity_is_409_and_changes_nothing(
    as_field_worker, make_household, make_person, make_offer, make_proposal, app
):
    offer = make_offer(capacity=4)
    first = family(make_household, make_person, 3)
    second = family(make_household, make_person, 2)
    first_proposal = make_proposal(first, offer)
    second_proposal = make_proposal(second, offer)
    as_field_worker.post(action_url(second_proposal, "show"), json={})
    assert as_field_worker.post(action_url(first_proposal, "accept"), json={}).status_code == 200

    response = as_field_worker.post(action_url(second_proposal, "accept"), json={})

    assert response.status_code == 409
    assert code(response) == "capacity_exceeded"
    assert stored_proposal(app, second_proposal).status == "shown"
    assert stored_proposal(app, second_proposal).places is None
    assert offer_state(as_field_worker, offer) == (1, "available")
    assert stored_offer(app, offer).taken == 3


def test_accepting_a_proposal_of_a_withdrawn_offer_is_409(
    as_field_worker, as_coordinator, make_household, make_person, make_offer, make_proposal, app
):
    household = family(make_household, make_person, 1)
    offer = make_offer()
    proposal = make_proposal(household, offer)
    withdraw(as_coordinator, offer)

    response = as_field_worker.post(action_url(proposal, "accept"), json={})

    assert response.status_code == 409
    assert stored_proposal(app, proposal).status == "withdrawn"
    assert stored_offer(app, offer).taken == 0


# --- the rule through the service --------------------------------------------------------


def test_service_refuses_accept_beyond_capacity(
    app, coordinator, make_household, make_person, make_offer, make_proposal
):
    offer = make_offer(capacity=2)
    household = family(make_household, make_person, 3)
    proposal = make_proposal(household, offer)

    with app.app_context():
        actor = db.session.get(type(coordinator), coordinator.id)
        with pytest.raises(Conflict) as refused:
            proposals.accept_proposal(actor, proposal.id)
        db.session.rollback()

    assert refused.value.code == "capacity_exceeded"
    assert stored_offer(app, offer).taken == 0
    assert stored_proposal(app, proposal).status == "proposed"
