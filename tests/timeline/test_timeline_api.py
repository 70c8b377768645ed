"""A household's timeline through the HTTP API: what happened, in the order it happened.

Entries are derived from the changes as they commit; a visit logged offline hours later
takes its place at the time of the visit, not at the time it reached the server.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from app.auth.models import FIELD_WORKER
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born, etag

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


def timeline_url(household, query: str = "") -> str:
    return f"/api/v1/households/{household.id}/timeline{query}"


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


@pytest.fixture
def household(make_household, team):
    return make_household(team=team)


@pytest.fixture
def family(household, make_person):
    return SimpleNamespace(
        mother=make_person(household, full_name="Olena Kovalenko", age=34, sex="female"),
        child=make_person(household, full_name="Dmytro Kovalenko", date_of_birth=born(8)),
    )


@pytest.fixture
def history(as_field_worker, as_coordinator, household, family):
    """A week of work on one household, told to the API in the order it reached the server."""

    def ok(response, status=201):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    mother_link = ok(
        as_field_worker.post(
            f"/api/v1/persons/{family.child.id}/guardians",
            json={"guardian_person_id": str(family.mother.id), "relationship": "mother"},
        )
    )
    father_response = as_field_worker.post(
        f"/api/v1/persons/{family.child.id}/guardians",
        json={
            "external_name": "Taras Kovalenko",
            "external_contact": "+48 600 000 000",
            "relationship": "father",
        },
    )
    father_link = ok(father_response)
    # this morning's visit, logged offline, reaches the server only now
    visited_at = ago(hours=6)
    visit = ok(
        as_field_worker.post(
            f"/api/v1/households/{household.id}/visits",
            json={
                "visited_at": visited_at.isoformat(),
                "outcome": "talked",
                "notes": "Olena is afraid of the road.",
            },
        )
    )
    # the mother's own consent, collected on that visit
    own = ok(
        as_field_worker.post(
            "/api/v1/consents",
            json={
                "subject_id": str(family.mother.id),
                "basis": "self",
                "decision": "granted",
                "given_at": (visited_at + dt.timedelta(minutes=5)).isoformat(),
                "visit_id": visit["id"],
                "evidence": "signed_form",
            },
        )
    )
    changed = ok(  # a parent who can no longer decide: a coordinator records it
        as_coordinator.patch(
            f"/api/v1/guardianships/{father_link['id']}",
            json={"legal_status": "missing"},
            headers={"If-Match": etag(father_response)},
        ),
        200,
    )
    grant = ok(
        as_field_worker.post(
            "/api/v1/consents",
            json={
                "subject_id": str(family.child.id),
                "basis": "parental",
                "decision": "granted",
                "guardianship_id": mother_link["id"],
                "given_at": dt.datetime.now(dt.UTC).isoformat(),
                "evidence": "signed_form",
                "notes": "Olena signed in the stairwell.",
            },
        )
    )
    ok(as_coordinator.post(f"/api/v1/consents/{grant['id']}/verify", json={}), 200)
    ok(
        as_field_worker.post(
            f"/api/v1/consents/{own['id']}/revoke",
            json={"reason": "Olena will stay with her mother."},
        ),
        200,
    )
    return SimpleNamespace(
        visit=visit,
        visited_at=visited_at,
        mother_link=mother_link,
        father_link=changed,
        own=own,
        grant=grant,
    )


def test_the_timeline_tells_the_history_in_time_order(
    as_field_worker, field_worker, coordinator, family, household, history
):
    response = as_field_worker.get(timeline_url(household))

    assert response.status_code == 200
    entries = response.get_json()["items"]
    assert [(e["kind"], e["entity_id"]) for e in entries] == [
        ("visit_logged", history.visit["id"]),
        ("consent_recorded", history.own["id"]),
        ("member_added", str(family.mother.id)),  # the members, added by a coordinator
        ("member_added", str(family.child.id)),
        ("guardian_linked", history.mother_link["id"]),
        ("guardian_linked", history.father_link["id"]),
        ("status_changed", str(household.id)),  # the visit's conversation, when it arrived
        ("guardianship_changed", history.father_link["id"]),
        ("consent_recorded", history.grant["id"]),
        ("consent_verified", history.grant["id"]),
        ("consent_revoked", history.own["id"]),
    ]
    times = [dt.datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert times == sorted(times)
    assert times[0] == history.visited_at
    assert {e["household_id"] for e in entries} == {str(household.id)}
    assert [e["actor_id"] for e in entries] == [str(field_worker.id)] * 2 + [
        str(coordinator.id)
    ] * 2 + [str(field_worker.id)] * 3 + [
        str(coordinator.id),  # the father recorded missing
        str(field_worker.id),
        str(coordinator.id),  # the grant verified
        str(field_worker.id),
    ]
    assert [e["entity_type"] for e in entries] == [
        "visit",
        "consent",
        "person",
        "person",
        "guardianship",
        "guardianship",
        "household",
        "guardianship",
        "consent",
        "consent",
        "consent",
    ]
    assert entries[1]["person_id"] == str(family.mother.id)
    assert entries[3]["person_id"] == str(family.child.id)
    assert entries[6]["person_id"] is None
    assert entries[9]["person_id"] == str(family.child.id)


def test_entry_details_hold_codes_not_names(as_coordinator, household, history):
    entries = as_coordinator.get(timeline_url(household)).get_json()["items"]

    assert [e["details"] for e in entries] == [
        {"outcome": "talked"},
        {"basis": "self", "decision": "granted", "review_status": "not_required"},
        {"status": "present"},
        {"status": "present"},
        {"relationship": "mother", "legal_status": "active"},
        {"relationship": "father", "legal_status": "active"},
        {"from": "identified", "to": "engaging", "cause": "visit"},
        {
            "before": {"relationship": "father", "legal_status": "active"},
            "after": {"relationship": "father", "legal_status": "missing"},
        },
        {"basis": "parental", "decision": "granted", "review_status": "pending_review"},
        {"basis": "parental", "decision": "granted"},
        {"basis": "self", "decision": "granted"},
    ]
    text = json.dumps([e["details"] for e in entries])
    for private in ("Olena", "Kovalenko", "Taras", "+48", "stairwell", "afraid", "stay"):
        assert private not in text


def test_the_timeline_pages_with_limit(as_field_worker, household, history):
    everything = as_field_worker.get(timeline_url(household)).get_json()
    assert everything["next_cursor"] is None

    seen, cursor, pages = [], None, 0
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = as_field_worker.get(timeline_url(household, query)).get_json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 4  # 11 entries, 3 a page
    assert seen == everything["items"]


def test_an_empty_history(as_field_worker, household):
    assert as_field_worker.get(timeline_url(household)).get_json() == {
        "items": [],
        "next_cursor": None,
    }


def test_another_teams_household_is_404(as_other_field_worker, household, history):
    response = as_other_field_worker.get(timeline_url(household))

    assert response.status_code == 404
    assert "Kovalenko" not in response.get_data(as_text=True)


def test_only_the_households_own_history(
    make_household, make_person, make_user, login, team, household, history
):
    neighbours = make_household(team=team)
    neighbour = make_person(neighbours, full_name="Neighbour", age=50)
    as_colleague = login(make_user(FIELD_WORKER, team))

    assert [
        (e["kind"], e["entity_id"])
        for e in as_colleague.get(timeline_url(neighbours)).get_json()["items"]
    ] == [("member_added", str(neighbour.id))]
    assert len(as_colleague.get(timeline_url(household)).get_json()["items"]) == 11


def test_an_admin_may_not_read_a_timeline(as_admin, household):
    assert as_admin.get(timeline_url(household)).status_code == 403
