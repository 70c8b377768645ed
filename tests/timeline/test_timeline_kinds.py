"""The whole history, through the HTTP API: members, proposals, evacuations, statuses.

The timeline is derived from the stream of changes, so whatever changes a household's case
shows in its history without any service writing an entry: a member added or their status
changed, a housing proposal made, shown, accepted, declined or withdrawn, a member added to
or taken out of an evacuation, and the evacuation's steps (one entry for each household
with members in it). Details hold codes and ids, never what people said or are called.
"""

from __future__ import annotations

import json

import pytest

from tests.housing.helpers import action_url, proposals_url, withdraw
from tests.http_helpers import etag_of


def history(api, household, *kinds: str) -> list[dict]:
    """The household's timeline (entries of ``kinds`` only, when named)."""
    response = api.get(f"/api/v1/households/{household.id}/timeline?limit=100")
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    return [e for e in items if not kinds or e["kind"] in kinds]


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def patch_person(api, person_id, changes: dict) -> dict:
    url = f"/api/v1/persons/{person_id}"
    return ok(api.patch(url, json=changes, headers={"If-Match": etag_of(api, url)}))


@pytest.fixture
def household(make_household, team):
    return make_household(team=team)


def test_a_member_added_and_their_status_changed(as_field_worker, field_worker, household):
    added = ok(
        as_field_worker.post(
            f"/api/v1/households/{household.id}/members",
            json={
                "full_name": "Iryna Shevchenko",
                "estimated_age": 70,
                "medical_notes": "Needs insulin twice a day.",
            },
        ),
        201,
    )
    patch_person(as_field_worker, added["id"], {"status": "missing"})

    entries = history(as_field_worker, household)
    assert [(e["kind"], e["entity_type"], e["entity_id"], e["person_id"]) for e in entries] == [
        ("member_added", "person", added["id"], added["id"]),
        ("member_status_changed", "person", added["id"], added["id"]),
    ]
    assert [e["details"] for e in entries] == [
        {"status": "present"},
        {"from": "present", "to": "missing"},
    ]
    assert {e["actor_id"] for e in entries} == {str(field_worker.id)}
    text = json.dumps(entries)
    for private in ("Iryna", "Shevchenko", "insulin"):
        assert private not in text


def test_an_edit_that_moves_no_status_writes_no_entry(as_field_worker, household, make_person):
    person = make_person(household, age=40)
    before = history(as_field_worker, household)

    patch_person(as_field_worker, person.id, {"mobility": "cannot_walk"})

    assert history(as_field_worker, household) == before


def test_proposals_made_shown_accepted_declined_and_withdrawn(
    as_field_worker, as_coordinator, field_worker, coordinator, household, make_offer, make_person
):
    make_person(household, age=40)  # someone to house
    flat, room, shelter = (make_offer(title=t) for t in ("Flat", "Room", "Shelter"))
    url = proposals_url(household)
    accepted = ok(as_field_worker.post(url, json={"offer_id": str(flat.id)}), 201)
    declined = ok(
        as_field_worker.post(
            url, json={"offer_id": str(room.id), "notes": "Second floor, Olha's cousin"}
        ),
        201,
    )
    withdrawn = ok(as_field_worker.post(url, json={"offer_id": str(shelter.id)}), 201)
    ok(as_field_worker.post(action_url(accepted["id"], "show"), json={}))
    ok(as_field_worker.post(action_url(accepted["id"], "accept"), json={}))
    ok(
        as_field_worker.post(
            action_url(declined["id"], "decline"), json={"reason": "The stairs are too steep"}
        )
    )
    withdraw(as_coordinator, shelter)  # the offer goes, and its open proposals with it

    entries = [e for e in history(as_field_worker, household) if e["kind"] != "member_added"]
    assert [(e["kind"], e["entity_id"]) for e in entries] == [
        ("proposal_made", accepted["id"]),
        ("proposal_made", declined["id"]),
        ("proposal_made", withdrawn["id"]),
        ("proposal_shown", accepted["id"]),
        ("proposal_accepted", accepted["id"]),
        ("proposal_declined", declined["id"]),
        ("proposal_withdrawn", withdrawn["id"]),
    ]
    assert {e["entity_type"] for e in entries} == {"proposal"}
    assert {e["person_id"] for e in entries} == {None}
    places = ok(as_field_worker.get(url))["items"]
    taken = next(p for p in places if p["id"] == accepted["id"])["places"]
    assert [e["details"] for e in entries] == [
        {"offer_id": str(flat.id)},
        {"offer_id": str(room.id)},
        {"offer_id": str(shelter.id)},
        {"offer_id": str(flat.id)},
        {"offer_id": str(flat.id), "places": taken},
        {"offer_id": str(room.id)},
        {"offer_id": str(shelter.id)},
    ]
    assert [e["actor_id"] for e in entries] == [str(field_worker.id)] * 6 + [str(coordinator.id)]
    text = json.dumps(entries)
    for private in ("Olha", "cousin", "stairs"):
        assert private not in text


@pytest.fixture
def leaving(make_household, make_person, make_consent, field_worker, team, household):
    """Two households of the team, with people who agreed to leave."""

    consents = {}

    def adult(in_household, name):
        person = make_person(in_household, age=40, full_name=name)
        consents[person.id] = str(make_consent(field_worker, person, "self", "granted").id)
        return person

    neighbours = make_household(team=team)
    return {
        "household": household,
        "neighbours": neighbours,
        "mother": adult(household, "Maria Bondar"),
        "father": adult(household, "Petro Bondar"),
        "neighbour": adult(neighbours, "Ostap Melnyk"),
        "consents": consents,
    }


def test_evacuation_membership_and_its_steps(
    as_coordinator, coordinator, make_evacuation, team, leaving
):
    evacuation = make_evacuation(team)
    base = f"/api/v1/evacuations/{evacuation.id}"
    mother, father, neighbour = leaving["mother"], leaving["father"], leaving["neighbour"]
    for person in (mother, father, neighbour):
        ok(as_coordinator.post(f"{base}/members", json={"person_id": str(person.id)}), 201)
    ok(as_coordinator.delete(f"{base}/members/{father.id}"))
    ok(as_coordinator.post(f"{base}/depart", json={}))
    ok(as_coordinator.post(f"{base}/arrive", json={}))

    household, neighbours = leaving["household"], leaving["neighbours"]
    kinds = (
        "added_to_evacuation",
        "removed_from_evacuation",
        "evacuation_departed",
        "evacuation_arrived",
    )
    entries = history(as_coordinator, household, *kinds)
    assert [(e["kind"], e["person_id"]) for e in entries] == [
        ("added_to_evacuation", str(mother.id)),
        ("added_to_evacuation", str(father.id)),
        ("removed_from_evacuation", str(father.id)),
        ("evacuation_departed", None),
        ("evacuation_arrived", None),
    ]
    assert {(e["entity_type"], e["entity_id"]) for e in entries} == {
        ("evacuation", str(evacuation.id))
    }
    assert {e["actor_id"] for e in entries} == {str(coordinator.id)}
    consents = leaving["consents"]
    # the consent that let each of them join
    assert entries[0]["details"] == {"consent_id": consents[mother.id]}
    assert entries[1]["details"] == {"consent_id": consents[father.id]}
    assert entries[2]["details"] == {}
    # each step names the household's own members in it, nobody else's
    assert entries[3]["details"] == entries[4]["details"] == {"person_ids": [str(mother.id)]}
    assert [(e["kind"], e["details"]) for e in history(as_coordinator, neighbours, *kinds)] == [
        ("added_to_evacuation", {"consent_id": consents[neighbour.id]}),
        ("evacuation_departed", {"person_ids": [str(neighbour.id)]}),
        ("evacuation_arrived", {"person_ids": [str(neighbour.id)]}),
    ]

    # the arrival moved the people who arrived, then the emptied household
    moved = history(as_coordinator, neighbours, "member_status_changed", "status_changed")
    assert [(e["kind"], e["person_id"], e["details"]) for e in moved] == [
        ("member_status_changed", str(neighbour.id), {"from": "present", "to": "evacuated"}),
        ("status_changed", None, {"from": "identified", "to": "evacuated", "cause": "arrival"}),
    ]
    # the father stayed: the household is not emptied, only the mother moved
    stayed = history(as_coordinator, household, "member_status_changed", "status_changed")
    assert [(e["kind"], e["person_id"]) for e in stayed] == [
        ("member_status_changed", str(mother.id))
    ]


def test_a_cancelled_evacuation_is_in_each_households_history(
    as_coordinator, make_evacuation, team, leaving
):
    evacuation = make_evacuation(team)
    base = f"/api/v1/evacuations/{evacuation.id}"
    for person in (leaving["mother"], leaving["neighbour"]):
        ok(as_coordinator.post(f"{base}/members", json={"person_id": str(person.id)}), 201)
    ok(as_coordinator.post(f"{base}/cancel", json={}))

    for household, person in (
        (leaving["household"], leaving["mother"]),
        (leaving["neighbours"], leaving["neighbour"]),
    ):
        [cancelled] = history(as_coordinator, household, "evacuation_cancelled")
        assert (cancelled["entity_type"], cancelled["entity_id"]) == (
            "evacuation",
            str(evacuation.id),
        )
        assert cancelled["details"] == {"person_ids": [str(person.id)]}
        # and nobody's status moved
        assert history(as_coordinator, household, "member_status_changed") == []


def test_an_evacuation_without_members_tells_no_household(
    as_coordinator, make_evacuation, team, household, make_person
):
    make_person(household, age=30)
    evacuation = make_evacuation(team)
    before = history(as_coordinator, household)

    ok(as_coordinator.post(f"/api/v1/evacuations/{evacuation.id}/cancel", json={}))

    assert history(as_coordinator, household) == before
