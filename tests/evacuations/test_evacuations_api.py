"""Evacuations through the HTTP API: planning, members under the rule, departure, arrival.

DESIGN §3 (evacuation), §4 (clause 7 and "under lock"), §5 (problems, idempotency), §7.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from app.auth.models import ADMIN, FIELD_WORKER
from tests.conftest import staff_shared_by_the_module

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

URL = "/api/v1/evacuations"


def url(evacuation, suffix: str = "") -> str:
    return f"{URL}/{evacuation.id}{suffix}"


def add(client, evacuation, person, **fields):
    """POST a member; ``fields`` may name a companion person or an escort user."""
    body = {"person_id": str(person.id)}
    for name, value in fields.items():
        body[name] = None if value is None else str(getattr(value, "id", value))
    return client.post(url(evacuation, "/members"), json=body)


def member_ids(body: dict) -> list[str]:
    return [member["person_id"] for member in body["members"]]


def reasons(response) -> list[tuple[str, str]]:
    """The refusal's reasons as (code, person_id), in the order given."""
    return [(r["code"], r["person_id"]) for r in response.get_json()["reasons"]]


def revoke(client, record, reason: str = "The mother changed her mind."):
    response = client.post(f"/api/v1/consents/{record.id}/revoke", json={"reason": reason})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def plan_body(team, **fields) -> dict:
    return {
        "team_id": str(team.id),
        "planned_departure": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(),
        "mode": "on_foot",
        "meeting_point": "The old water tower",
        "route_notes": "Along the river, then the rail bridge.",
        **fields,
    }


@pytest.fixture
def ready(as_coordinator, evacuation, eligible_adult):
    """The planned evacuation with one adult who agreed to leave: it can depart."""
    adult = eligible_adult()
    assert add(as_coordinator, evacuation, adult).status_code == 201
    return evacuation


# --- planning and who may see it ---------------------------------------------------------


def test_a_coordinator_plans_an_evacuation(as_coordinator, team):
    response = as_coordinator.post(URL, json=plan_body(team))

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "planned"
    assert body["team_id"] == str(team.id)
    assert body["mode"] == "on_foot"
    assert body["meeting_point"] == "The old water tower"
    assert body["members"] == []
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    fetched = as_coordinator.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == body
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_a_plan_may_carry_its_own_id_once(as_coordinator, team):
    chosen = str(uuid.uuid4())
    first = as_coordinator.post(URL, json=plan_body(team, id=chosen))
    again = as_coordinator.post(URL, json=plan_body(team, id=chosen))

    assert first.status_code == 201
    assert first.get_json()["id"] == chosen
    assert again.status_code == 409


@pytest.mark.parametrize(
    "fields",
    [
        {"mode": "helicopter"},
        {"meeting_point": "   "},
        {"planned_departure": "2030-01-01T08:00:00"},
        {"status": "departed"},
        {"surprise": True},
    ],
    ids=["mode", "blank-meeting-point", "naive-time", "status-is-not-settable", "unknown-field"],
)
def test_a_plan_with_invalid_fields_is_422(as_coordinator, team, fields):
    response = as_coordinator.post(URL, json=plan_body(team, **fields))

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == set(fields)
    assert as_coordinator.get(URL).get_json()["items"] == []


def test_a_plan_for_an_unknown_team_is_422(as_coordinator, team):
    response = as_coordinator.post(URL, json=plan_body(team, team_id=str(uuid.uuid4())))

    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]


def test_a_field_worker_may_not_run_an_evacuation(
    as_field_worker, as_coordinator, team, evacuation, eligible_adult
):
    adult = eligible_adult()
    assert add(as_coordinator, evacuation, adult).status_code == 201
    newcomer = eligible_adult()
    attempts = [
        as_field_worker.post(URL, json=plan_body(team)),
        add(as_field_worker, evacuation, newcomer),
        as_field_worker.delete(url(evacuation, f"/members/{adult.id}")),
        as_field_worker.post(url(evacuation, "/depart"), json={}),
        as_field_worker.post(url(evacuation, "/arrive"), json={}),
        as_field_worker.post(url(evacuation, "/cancel"), json={}),
    ]

    assert [a.status_code for a in attempts] == [403] * len(attempts)
    body = as_coordinator.get(url(evacuation)).get_json()
    assert body["status"] == "planned"
    assert member_ids(body) == [str(adult.id)]
    assert len(as_coordinator.get(URL).get_json()["items"]) == 1


def test_a_field_worker_reads_their_own_teams_evacuations_only(
    as_field_worker, as_coordinator, make_evacuation, team, other_team, eligible_adult
):
    ours = make_evacuation(team)
    theirs = make_evacuation(other_team, mode="vehicle")
    adult = eligible_adult()
    assert add(as_coordinator, ours, adult).status_code == 201

    listed = as_field_worker.get(URL)
    one = as_field_worker.get(url(ours))

    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [str(ours.id)]
    assert one.status_code == 200
    assert member_ids(one.get_json()) == [str(adult.id)]
    assert as_field_worker.get(url(theirs)).status_code == 404
    assert {item["id"] for item in as_coordinator.get(URL).get_json()["items"]} == {
        str(ours.id),
        str(theirs.id),
    }


def test_evacuations_list_filters_by_status(as_coordinator, make_evacuation, team):
    kept = make_evacuation(team)
    dropped = make_evacuation(team)
    assert as_coordinator.post(url(dropped, "/cancel"), json={}).status_code == 200

    planned = as_coordinator.get(f"{URL}?status=planned").get_json()["items"]
    cancelled = as_coordinator.get(f"{URL}?status=cancelled").get_json()["items"]

    assert [item["id"] for item in planned] == [str(kept.id)]
    assert [item["id"] for item in cancelled] == [str(dropped.id)]


def test_an_administrator_has_no_access_to_evacuations(as_admin, team, evacuation):
    assert as_admin.get(URL).status_code == 403
    assert as_admin.get(url(evacuation)).status_code == 403
    assert as_admin.post(URL, json=plan_body(team)).status_code == 403
    assert as_admin.post(url(evacuation, "/depart"), json={}).status_code == 403


def test_an_unknown_evacuation_is_404(as_coordinator):
    missing = f"{URL}/{uuid.uuid4()}"
    assert as_coordinator.get(missing).status_code == 404
    assert as_coordinator.post(f"{missing}/depart", json={}).status_code == 404
    assert (
        as_coordinator.post(f"{missing}/members", json={"person_id": str(uuid.uuid4())})
    ).status_code == 404


# --- adding members: the rule, under lock ------------------------------------------------


def test_an_adult_who_agreed_joins(as_coordinator, evacuation, eligible_adult):
    adult = eligible_adult()

    response = add(as_coordinator, evacuation, adult)

    assert response.status_code == 201
    body = response.get_json()
    assert body["members"] == [
        {
            "person_id": str(adult.id),
            "accompanied_by_person_id": None,
            "escort_user_id": None,
            "destination_offer_id": None,
        }
    ]
    fetched = as_coordinator.get(url(evacuation))
    assert fetched.get_json() == body
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_a_person_who_may_not_leave_is_refused_with_every_reason(
    as_coordinator, evacuation, make_person, household
):
    """A man recorded as gone, who never agreed: both reasons, each naming him."""
    gone = make_person(household, age=50, status="left")

    response = add(as_coordinator, evacuation, gone)

    assert response.status_code == 409
    problem = response.get_json()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert sorted(reasons(response)) == [
        ("consent_missing", str(gone.id)),
        ("not_present", str(gone.id)),
    ]
    assert all(reason["message"] for reason in problem["reasons"])
    assert as_coordinator.get(url(evacuation)).get_json()["members"] == []


def test_an_adult_who_refused_stays(
    as_coordinator, evacuation, make_person, make_consent, field_worker, household
):
    grandfather = make_person(household, age=74)
    make_consent(field_worker, grandfather, "self", "refused")

    response = add(as_coordinator, evacuation, grandfather)

    assert response.status_code == 409
    assert reasons(response) == [("refused", str(grandfather.id))]


def test_a_person_not_present_is_refused_even_with_consent(
    as_coordinator, evacuation, eligible_adult
):
    missing = eligible_adult(status="missing")

    response = add(as_coordinator, evacuation, missing)

    assert response.status_code == 409
    assert reasons(response) == [("not_present", str(missing.id))]


def test_a_child_without_consent_or_companion_gets_both_reasons(
    as_coordinator, evacuation, eligible_adult, child_of, make_person, household
):
    """Every reason at once, so the team knows all that must happen before the child goes."""
    orphan = make_person(household, age=9)

    response = add(as_coordinator, evacuation, orphan)

    assert response.status_code == 409
    assert sorted(reasons(response)) == [
        ("consent_missing", str(orphan.id)),
        ("unaccompanied_child", str(orphan.id)),
    ]


def test_a_childs_grant_awaiting_review_is_not_enough(
    as_coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother, verified=False)
    assert add(as_coordinator, evacuation, mother).status_code == 201

    response = add(as_coordinator, evacuation, child.person, accompanied_by_person_id=mother)

    assert response.status_code == 409
    assert reasons(response) == [("consent_pending_review", str(child.person.id))]


def test_a_child_with_a_verified_grant_still_needs_a_companion(
    as_coordinator, evacuation, eligible_adult, child_of
):
    child = child_of(eligible_adult())

    response = add(as_coordinator, evacuation, child.person)

    assert response.status_code == 409
    assert response.get_json()["code"] == "unaccompanied_child"
    assert reasons(response) == [("unaccompanied_child", str(child.person.id))]
    assert as_coordinator.get(url(evacuation)).get_json()["members"] == []


def test_a_child_goes_with_an_adult_member_of_the_evacuation(
    as_coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother)
    assert add(as_coordinator, evacuation, mother).status_code == 201

    response = add(as_coordinator, evacuation, child.person, accompanied_by_person_id=mother)

    assert response.status_code == 201
    members = {m["person_id"]: m for m in response.get_json()["members"]}
    assert members[str(child.person.id)]["accompanied_by_person_id"] == str(mother.id)
    assert set(members) == {str(mother.id), str(child.person.id)}


def test_a_child_goes_with_a_named_staff_escort(
    as_coordinator, evacuation, eligible_adult, child_of, field_worker
):
    child = child_of(eligible_adult())

    response = add(as_coordinator, evacuation, child.person, escort_user_id=field_worker)

    assert response.status_code == 201
    assert response.get_json()["members"][0]["escort_user_id"] == str(field_worker.id)


@pytest.mark.parametrize("escort", ["administrator", "deactivated"])
def test_an_escort_is_an_active_member_of_staff(
    as_coordinator, evacuation, eligible_adult, child_of, make_user, team, escort
):
    user = (
        make_user(ADMIN)
        if escort == "administrator"
        else make_user(FIELD_WORKER, team, is_active=False)
    )
    child = child_of(eligible_adult())

    response = add(as_coordinator, evacuation, child.person, escort_user_id=user)

    assert response.status_code == 409
    assert reasons(response) == [("unaccompanied_child", str(child.person.id))]


def test_a_companion_who_is_not_a_member_is_refused(
    as_coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother)

    response = add(as_coordinator, evacuation, child.person, accompanied_by_person_id=mother)

    assert response.status_code == 409
    assert reasons(response) == [("unaccompanied_child", str(child.person.id))]


def test_a_companion_in_another_evacuation_is_refused(
    as_coordinator, make_evacuation, team, eligible_adult, child_of
):
    first, second = make_evacuation(team), make_evacuation(team)
    mother = eligible_adult()
    child = child_of(mother)
    assert add(as_coordinator, first, mother).status_code == 201

    response = add(as_coordinator, second, child.person, accompanied_by_person_id=mother)

    assert response.status_code == 409
    assert reasons(response) == [("unaccompanied_child", str(child.person.id))]


def test_a_child_cannot_accompany_a_child(
    as_coordinator, evacuation, eligible_adult, child_of, field_worker
):
    mother = eligible_adult()
    elder = child_of(mother, age=15)
    younger = child_of(mother, age=6)
    escorted = add(as_coordinator, evacuation, elder.person, escort_user_id=field_worker)
    assert escorted.status_code == 201

    response = add(
        as_coordinator, evacuation, younger.person, accompanied_by_person_id=elder.person
    )

    assert response.status_code == 409
    assert reasons(response) == [("unaccompanied_child", str(younger.person.id))]


def test_a_person_in_another_planned_evacuation_is_refused_until_it_is_cancelled(
    as_coordinator, make_evacuation, team, eligible_adult
):
    first, second = make_evacuation(team), make_evacuation(team, mode="vehicle")
    adult = eligible_adult()
    assert add(as_coordinator, first, adult).status_code == 201

    refused = add(as_coordinator, second, adult)
    assert as_coordinator.post(url(first, "/cancel"), json={}).status_code == 200
    accepted = add(as_coordinator, second, adult)

    assert refused.status_code == 409
    assert refused.get_json()["code"] == "already_in_evacuation"
    assert accepted.status_code == 201
    assert member_ids(accepted.get_json()) == [str(adult.id)]


def test_a_person_is_a_member_once(as_coordinator, evacuation, eligible_adult):
    adult = eligible_adult()
    assert add(as_coordinator, evacuation, adult).status_code == 201

    again = add(as_coordinator, evacuation, adult)

    assert again.status_code == 409
    assert member_ids(as_coordinator.get(url(evacuation)).get_json()) == [str(adult.id)]


@pytest.mark.parametrize("field", ["person_id", "escort_user_id", "accompanied_by_person_id"])
def test_unknown_references_are_422(as_coordinator, evacuation, eligible_adult, child_of, field):
    child = child_of(eligible_adult())
    body = {"person_id": str(child.person.id), field: str(uuid.uuid4())}

    response = as_coordinator.post(url(evacuation, "/members"), json=body)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


# --- removing members --------------------------------------------------------------------


def test_the_adult_accompanying_a_child_cannot_be_removed_first(
    as_coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother)
    assert add(as_coordinator, evacuation, mother).status_code == 201
    assert (
        add(as_coordinator, evacuation, child.person, accompanied_by_person_id=mother).status_code
        == 201
    )

    refused = as_coordinator.delete(url(evacuation, f"/members/{mother.id}"))
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "unaccompanied_child"
    assert reasons(refused) == [("unaccompanied_child", str(child.person.id))]
    assert len(as_coordinator.get(url(evacuation)).get_json()["members"]) == 2

    child_removed = as_coordinator.delete(url(evacuation, f"/members/{child.person.id}"))
    assert child_removed.status_code == 200
    assert member_ids(child_removed.get_json()) == [str(mother.id)]

    mother_removed = as_coordinator.delete(url(evacuation, f"/members/{mother.id}"))
    assert mother_removed.status_code == 200
    assert mother_removed.get_json()["members"] == []


def test_removing_someone_who_is_not_a_member_is_404(as_coordinator, evacuation, eligible_adult):
    stranger = eligible_adult()

    assert as_coordinator.delete(url(evacuation, f"/members/{stranger.id}")).status_code == 404


def test_changing_the_members_changes_the_etag(as_coordinator, evacuation, eligible_adult):
    before = as_coordinator.get(url(evacuation)).headers["ETag"]
    adult = eligible_adult()

    added = add(as_coordinator, evacuation, adult)
    removed = as_coordinator.delete(url(evacuation, f"/members/{adult.id}"))

    assert added.headers["ETag"] != before
    assert removed.headers["ETag"] not in (before, added.headers["ETag"])
    assert as_coordinator.get(url(evacuation)).headers["ETag"] == removed.headers["ETag"]


# --- departure ---------------------------------------------------------------------------


@pytest.fixture
def family_on_board(as_coordinator, evacuation, eligible_adult, child_of):
    """A mother and her child (verified grant), both members, the child with her."""
    mother = eligible_adult(full_name="Olena")
    child = child_of(mother)
    assert add(as_coordinator, evacuation, mother).status_code == 201
    response = add(as_coordinator, evacuation, child.person, accompanied_by_person_id=mother)
    assert response.status_code == 201
    return mother, child


def test_a_revocation_after_joining_stops_the_departure_and_changes_nothing(
    as_coordinator, as_field_worker, evacuation, family_on_board
):
    _mother, child = family_on_board
    before = as_coordinator.get(url(evacuation))
    revoke(as_field_worker, child.consent)

    response = as_coordinator.post(url(evacuation, "/depart"), json={})

    assert response.status_code == 409
    assert reasons(response) == [("consent_missing", str(child.person.id))]
    after = as_coordinator.get(url(evacuation))
    assert after.get_json() == before.get_json()
    assert after.get_json()["status"] == "planned"
    assert after.get_json()["departed_at"] is None
    assert after.headers["ETag"] == before.headers["ETag"]


def test_a_blocked_departure_names_every_blocked_person(
    as_coordinator,
    as_field_worker,
    evacuation,
    family_on_board,
    eligible_adult,
    make_consent,
    field_worker,
):
    _mother, child = family_on_board
    uncle = eligible_adult(full_name="Uncle Petro")
    assert add(as_coordinator, evacuation, uncle).status_code == 201
    revoke(as_field_worker, child.consent)
    make_consent(field_worker, uncle, "self", "refused")

    response = as_coordinator.post(url(evacuation, "/depart"), json={})

    assert response.status_code == 409
    assert sorted(reasons(response)) == sorted(
        [("consent_missing", str(child.person.id)), ("refused", str(uncle.id))]
    )
    assert as_coordinator.get(url(evacuation)).get_json()["status"] == "planned"


def test_a_departure_with_everyone_eligible_departs(
    as_coordinator, as_field_worker, evacuation, family_on_board
):
    response = as_coordinator.post(url(evacuation, "/depart"), json={})

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "departed"
    departed_at = dt.datetime.fromisoformat(body["departed_at"])
    assert abs(departed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert len(body["members"]) == 2
    assert as_field_worker.get(url(evacuation)).get_json()["status"] == "departed"


def test_a_departure_without_anybody_is_refused(as_coordinator, evacuation):
    response = as_coordinator.post(url(evacuation, "/depart"), json={})

    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"
    assert as_coordinator.get(url(evacuation)).get_json()["status"] == "planned"


def test_a_retried_departure_replays_its_answer(as_coordinator, ready):
    headers = {"Idempotency-Key": "depart-once"}

    first = as_coordinator.post(url(ready, "/depart"), json={}, headers=headers)
    retry = as_coordinator.post(url(ready, "/depart"), json={}, headers=headers)
    fresh = as_coordinator.post(url(ready, "/depart"), json={})

    assert first.status_code == 200
    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.get_json() == first.get_json()
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert fresh.status_code == 409
    assert fresh.get_json()["code"] == "invalid_transition"


# --- arrival -----------------------------------------------------------------------------


def test_arrival_evacuates_the_members_their_emptied_household_and_its_housing(
    as_coordinator,
    evacuation,
    eligible_adult,
    child_of,
    household,
    make_household,
    make_person,
    make_offer,
    make_proposal,
    team,
):
    mother = eligible_adult()
    child = child_of(mother)
    offer = make_offer(capacity=4)
    proposal = make_proposal(household, offer)
    accepted = as_coordinator.post(f"/api/v1/housing-proposals/{proposal.id}/accept", json={})
    assert accepted.status_code == 200, accepted.get_json()
    neighbours = make_household(team=team, locality="Riverside")
    grandfather = eligible_adult(neighbours, age=71)
    grandmother = make_person(neighbours, age=69)
    neighbours_before = as_coordinator.get(f"/api/v1/households/{neighbours.id}").get_json()
    for person, companion in ((mother, None), (child.person, mother), (grandfather, None)):
        response = add(as_coordinator, evacuation, person, accompanied_by_person_id=companion)
        assert response.status_code == 201
    assert as_coordinator.post(url(evacuation, "/depart"), json={}).status_code == 200

    response = as_coordinator.post(url(evacuation, "/arrive"), json={})

    assert response.status_code == 200
    assert response.get_json()["status"] == "arrived"
    assert response.get_json()["arrived_at"] is not None

    def status_of(person):
        return as_coordinator.get(f"/api/v1/persons/{person.id}").get_json()["status"]

    assert [status_of(p) for p in (mother, child.person, grandfather)] == ["evacuated"] * 3
    assert status_of(grandmother) == "present"
    family = as_coordinator.get(f"/api/v1/households/{household.id}").get_json()
    assert family["status"] == "evacuated"
    neighbours_after = as_coordinator.get(f"/api/v1/households/{neighbours.id}").get_json()
    assert neighbours_after["status"] == neighbours_before["status"] != "evacuated"
    home = as_coordinator.get(f"/api/v1/housing-offers/{offer.id}").get_json()
    assert home["status"] == "occupied"


def test_an_evacuated_person_cannot_join_another_evacuation(
    as_coordinator, ready, make_evacuation, team
):
    member = as_coordinator.get(url(ready)).get_json()["members"][0]["person_id"]
    assert as_coordinator.post(url(ready, "/depart"), json={}).status_code == 200
    assert as_coordinator.post(url(ready, "/arrive"), json={}).status_code == 200
    later = make_evacuation(team)

    response = as_coordinator.post(url(later, "/members"), json={"person_id": member})

    assert response.status_code == 409
    assert ("not_present", member) in reasons(response)


# --- cancelling and invalid transitions --------------------------------------------------


def test_a_planned_evacuation_is_cancelled(as_coordinator, ready):
    response = as_coordinator.post(url(ready, "/cancel"), json={})

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert as_coordinator.get(url(ready)).get_json()["status"] == "cancelled"


def bring_to(client, evacuation, status: str) -> None:
    steps = {
        "planned": [],
        "departed": ["depart"],
        "arrived": ["depart", "arrive"],
        "cancelled": ["cancel"],
    }[status]
    for step in steps:
        assert client.post(url(evacuation, f"/{step}"), json={}).status_code == 200


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("departed", "depart"),
        ("arrived", "depart"),
        ("cancelled", "depart"),
        ("planned", "arrive"),
        ("arrived", "arrive"),
        ("cancelled", "arrive"),
        ("departed", "cancel"),
        ("arrived", "cancel"),
        ("cancelled", "cancel"),
        ("departed", "add"),
        ("cancelled", "add"),
        ("departed", "remove"),
    ],
)
def test_invalid_transitions_are_409(as_coordinator, ready, eligible_adult, status, action):
    bring_to(as_coordinator, ready, status)
    before = as_coordinator.get(url(ready)).get_json()
    newcomer = eligible_adult()
    member = before["members"][0]["person_id"]

    if action == "add":
        response = add(as_coordinator, ready, newcomer)
    elif action == "remove":
        response = as_coordinator.delete(url(ready, f"/members/{member}"))
    else:
        response = as_coordinator.post(url(ready, f"/{action}"), json={})

    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"
    assert as_coordinator.get(url(ready)).get_json() == before


def test_steps_take_no_body_fields(as_coordinator, ready):
    response = as_coordinator.post(url(ready, "/depart"), json={"force": True})

    assert response.status_code == 422
    assert as_coordinator.get(url(ready)).get_json()["status"] == "planned"
