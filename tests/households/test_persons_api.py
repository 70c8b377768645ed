"""Household members through the HTTP API: derived ages, validation, If-Match, scope."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.households.models import Person, today, years_before
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born, etag
from tests.http_helpers import etag_of

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


def members_url(household) -> str:
    return f"/api/v1/households/{household.id}/members"


def person_url(person) -> str:
    return f"/api/v1/persons/{person.id if hasattr(person, 'id') else person}"


#: Stands for tomorrow's date, worked out when the test runs (not when it is collected).
TOMORROW = "<tomorrow>"


def resolve(fields: dict) -> dict:
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    return {k: tomorrow if v == TOMORROW else v for k, v in fields.items()}


def stored_people(app) -> list[Person]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Person)))


def add(client, household, **fields):
    fields.setdefault("full_name", "Test Member")
    return client.post(members_url(household), json=fields)


# --- create: derived ages ------------------------------------------------------------------


@pytest.mark.parametrize(
    "years, days, age, is_child, is_elderly",
    [
        (60, 0, 60, False, True),
        (60, 1, 59, False, False),
        (18, 0, 18, False, False),
        (18, 1, 17, True, False),
        (17, 0, 17, True, False),
        (0, 0, 0, True, False),
        (85, 0, 85, False, True),
    ],
    ids=["60", "60-tomorrow", "18", "18-tomorrow", "17", "born-today", "85"],
)
def test_age_is_derived_from_date_of_birth(
    as_field_worker, household, years, days, age, is_child, is_elderly
):
    birth = born(years, days)
    response = add(as_field_worker, household, date_of_birth=birth.isoformat())

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["date_of_birth"] == birth.isoformat()
    assert body["dob_estimated"] is False
    assert (body["age"], body["is_child"], body["is_elderly"]) == (age, is_child, is_elderly)


def test_created_member_has_defaults_location_and_etag(as_field_worker, household):
    response = add(as_field_worker, household, full_name="  Olena Shevchenko ", estimated_age=34)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["household_id"] == str(household.id)
    assert body["full_name"] == "Olena Shevchenko"
    assert (body["sex"], body["status"], body["mobility"]) == ("unknown", "present", "walks")
    assert body["version"] == 1
    assert response.headers["Location"] == f"/api/v1/persons/{body['id']}"
    fetched = as_field_worker.get(response.headers["Location"])
    assert fetched.get_json() == body
    assert etag(fetched) == etag(response)


@pytest.mark.parametrize("estimate", [0, 7, 17, 18, 60, 120])
def test_estimated_age_is_kept_as_an_estimated_birth_date(as_field_worker, household, estimate):
    response = add(as_field_worker, household, estimated_age=estimate)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["dob_estimated"] is True
    assert body["age"] == estimate
    assert body["is_child"] is (estimate < 18)
    assert body["is_elderly"] is (estimate >= 60)
    assert "estimated_age" not in body
    # the estimated birth date lies within the estimated year of age
    birth = dt.date.fromisoformat(body["date_of_birth"])
    assert years_before(today(), estimate + 1) < birth <= years_before(today(), estimate)


@pytest.mark.parametrize(
    "fields, error_field",
    [
        ({"date_of_birth": "2019-05-01", "estimated_age": 7}, "estimated_age"),
        ({}, "date_of_birth"),
        ({"date_of_birth": TOMORROW}, "date_of_birth"),
        ({"date_of_birth": "2010-02-30"}, "date_of_birth"),
        ({"date_of_birth": None}, "date_of_birth"),
        ({"estimated_age": -1}, "estimated_age"),
        ({"estimated_age": 121}, "estimated_age"),
        ({"estimated_age": 30, "status": "evacuated"}, "status"),
        ({"estimated_age": 30, "status": "gone"}, "status"),
        ({"estimated_age": 30, "sex": "x"}, "sex"),
        ({"estimated_age": 30, "mobility": "flies"}, "mobility"),
        ({"estimated_age": 30, "household_id": str(uuid.uuid4())}, "household_id"),
        ({"estimated_age": 30, "is_child": True}, "is_child"),
        ({"estimated_age": 30, "age": 3}, "age"),
        ({"estimated_age": 30, "version": 4}, "version"),
        ({"estimated_age": 30, "nickname": "Lena"}, "nickname"),
        ({"estimated_age": 30, "full_name": ""}, "full_name"),
        ({"estimated_age": 30, "full_name": " \t "}, "full_name"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth"),
    ],
)
def test_invalid_member_is_422_and_not_stored(as_field_worker, household, app, fields, error_field):
    response = add(as_field_worker, household, **resolve(fields))

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert error_field in response.get_json()["errors"]
    assert stored_people(app) == []


def test_oldest_possible_birth_date(as_field_worker, household):
    oldest = add(as_field_worker, household, date_of_birth=born(121, days=1).isoformat())
    too_old = add(as_field_worker, household, date_of_birth=born(121).isoformat())

    assert oldest.status_code == 201
    assert oldest.get_json()["age"] == 120
    assert too_old.status_code == 422
    assert "date_of_birth" in too_old.get_json()["errors"]


def test_patched_name_is_trimmed(as_field_worker, household, make_person):
    person = make_person(household)

    url = person_url(person)
    response = as_field_worker.patch(
        url, json={"full_name": "  Olena  "}, headers={"If-Match": etag_of(as_field_worker, url)}
    )

    assert response.status_code == 200
    assert response.get_json()["full_name"] == "Olena"


def test_full_name_is_required(as_field_worker, household, app):
    response = as_field_worker.post(members_url(household), json={"estimated_age": 30})

    assert response.status_code == 422
    assert "full_name" in response.get_json()["errors"]
    assert stored_people(app) == []


@pytest.mark.parametrize("status", ["left", "missing", "deceased"])
def test_other_statuses_may_be_recorded(as_field_worker, household, status):
    response = add(as_field_worker, household, estimated_age=40, status=status)

    assert response.status_code == 201
    assert response.get_json()["status"] == status


def test_client_chosen_id_is_honoured_and_a_duplicate_is_409(
    as_field_worker, household, make_household, app
):
    chosen = str(uuid.uuid4())
    first = add(as_field_worker, household, id=chosen, full_name="First", estimated_age=30)
    again = add(as_field_worker, household, id=chosen, full_name="Second", estimated_age=30)
    elsewhere = add(
        as_field_worker, make_household(), id=chosen, full_name="Third", estimated_age=30
    )

    assert first.status_code == 201
    assert first.get_json()["id"] == chosen
    assert again.status_code == 409
    assert elsewhere.status_code == 409
    assert [p.full_name for p in stored_people(app)] == ["First"]


# --- list ----------------------------------------------------------------------------------


def test_members_are_listed_oldest_record_first_in_pages(
    as_field_worker, household, make_person, make_household
):
    created = [str(make_person(household, full_name=f"Member {i}").id) for i in range(5)]
    make_person(make_household(), full_name="Someone else")

    seen, cursor = [], None
    for _ in range(3):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = as_field_worker.get(members_url(household), query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]

    assert cursor is None
    assert seen == created


def test_members_list_shows_derived_fields(as_field_worker, household, make_person):
    make_person(household, date_of_birth=born(8))

    [item] = as_field_worker.get(members_url(household)).get_json()["items"]

    assert (item["age"], item["is_child"], item["is_elderly"]) == (8, True, False)


def test_members_list_validates_page_arguments(as_field_worker, household):
    too_many = as_field_worker.get(members_url(household), query_string={"limit": 201})
    assert too_many.status_code == 422
    bad = as_field_worker.get(members_url(household), query_string={"cursor": "%%%"})
    assert bad.status_code == 422
    assert "cursor" in bad.get_json()["errors"]


# --- read and change -----------------------------------------------------------------------


def test_get_and_patch_a_person_with_if_match(as_field_worker, household, make_person):
    person = make_person(household, full_name="Petro", age=40)
    url = person_url(person)
    current = as_field_worker.get(url)
    assert current.status_code == 200
    change = {"mobility": "cannot_walk", "medical_notes": "needs a stretcher"}

    assert as_field_worker.patch(url, json=change).status_code == 428
    stale = as_field_worker.patch(url, json=change, headers={"If-Match": '"2"'})
    assert stale.status_code == 412
    assert etag(stale) == etag(current)
    assert as_field_worker.get(url).get_json()["mobility"] == "walks"

    changed = as_field_worker.patch(url, json=change, headers={"If-Match": etag(current)})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["mobility"], body["medical_notes"], body["version"]) == (
        "cannot_walk",
        "needs a stretcher",
        2,
    )
    assert etag(changed) != etag(current)
    after = as_field_worker.get(url)
    assert after.get_json() == body
    assert etag(after) == etag(changed)


def test_patch_birth_date_and_estimate(as_field_worker, as_coordinator, household, make_person):
    person = make_person(household, age=40)
    url = person_url(person)

    exact = as_field_worker.patch(
        url,
        json={"date_of_birth": born(16).isoformat()},
        headers={"If-Match": etag_of(as_field_worker, url)},
    )
    assert exact.status_code == 200, exact.get_json()
    assert (exact.get_json()["age"], exact.get_json()["is_child"]) == (16, True)
    assert exact.get_json()["dob_estimated"] is False

    # a child made an adult would decide for themselves: only a coordinator does that
    headers = {"If-Match": etag(exact)}
    refused = as_field_worker.patch(url, json={"estimated_age": 70}, headers=headers)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "coordinator_required"
    estimated = as_coordinator.patch(url, json={"estimated_age": 70}, headers=headers)
    assert estimated.status_code == 200, estimated.get_json()
    body = estimated.get_json()
    assert (body["age"], body["is_elderly"], body["dob_estimated"]) == (70, True, True)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"status": "evacuated"}, "status"),
        ({"date_of_birth": TOMORROW}, "date_of_birth"),
        ({"date_of_birth": "2020-05-01", "estimated_age": 5}, "estimated_age"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"household_id": str(uuid.uuid4())}, "household_id"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "   "}, "full_name"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(
    as_field_worker, household, make_person, change, field
):
    person = make_person(household, age=40, full_name="Petro")
    url = person_url(person)

    headers = {"If-Match": etag_of(as_field_worker, url)}
    response = as_field_worker.patch(url, json=resolve(change), headers=headers)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    after = as_field_worker.get(url).get_json()
    assert (after["version"], after["age"], after["status"]) == (1, 40, "present")


def test_birth_date_that_makes_a_guardian_a_child_is_422(
    as_field_worker, household, make_person, make_guardian
):
    mother = make_person(household, age=19, full_name="Young mother")
    child = make_person(household, age=1)
    make_guardian(child, mother, "mother")
    url = person_url(mother)

    headers = {"If-Match": etag_of(as_field_worker, url)}
    younger = as_field_worker.patch(
        url, json={"date_of_birth": born(17).isoformat()}, headers=headers
    )
    estimate = as_field_worker.patch(url, json={"estimated_age": 16}, headers=headers)
    still_adult = as_field_worker.patch(
        url, json={"date_of_birth": born(18).isoformat()}, headers=headers
    )

    assert younger.status_code == 422
    assert "date_of_birth" in younger.get_json()["errors"]
    assert estimate.status_code == 422
    assert still_adult.status_code == 200
    assert still_adult.get_json()["age"] == 18


def test_another_teams_person_is_not_found(
    as_field_worker, as_coordinator, foreign_household, make_person
):
    person = make_person(foreign_household, full_name="Ivan", age=50)
    url = person_url(person)

    assert as_field_worker.get(url).status_code == 404
    patched = as_field_worker.patch(url, json={"full_name": "X"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 404
    assert as_coordinator.get(url).get_json()["full_name"] == "Ivan"


def test_unknown_person_is_not_found(as_coordinator):
    assert as_coordinator.get(person_url(uuid.uuid4())).status_code == 404


def test_admin_cannot_read_people(as_admin, household, make_person):
    person = make_person(household)

    assert as_admin.get(person_url(person)).status_code == 403
    assert add(as_admin, household, estimated_age=30).status_code == 403


def test_a_parent_who_dies_stops_being_a_parent(
    as_field_worker, as_coordinator, household, make_person, make_guardian
):
    child = make_person(household, age=6)
    mother = make_person(household, age=31)
    link = make_guardian(child, mother, "mother")
    url = f"/api/v1/persons/{mother.id}"
    headers = {"If-Match": etag_of(as_coordinator, url)}
    refused = as_field_worker.patch(url, json={"status": "deceased"}, headers=headers)
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "coordinator_required"
    response = as_coordinator.patch(url, json={"status": "deceased"}, headers=headers)
    assert response.status_code == 200
    after = as_field_worker.get(f"/api/v1/guardianships/{link.id}").get_json()
    assert after["legal_status"] == "deceased"
    assert after["is_parent"] is False
    kinds = [
        e["kind"]
        for e in as_field_worker.get(f"/api/v1/households/{household.id}/timeline").get_json()[
            "items"
        ]
    ]
    assert "guardianship_changed" in kinds
    eligibility = as_field_worker.get(f"/api/v1/persons/{child.id}/eligibility").get_json()
    assert eligibility["requirement"] == "social_services_authorization"
