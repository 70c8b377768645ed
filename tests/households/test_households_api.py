"""Households through the HTTP API: create, scope, team assignment, list filters, counts."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.households.models import Household
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born, etag
from tests.http_helpers import etag_of

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

HOUSEHOLDS = "/api/v1/households"
REF = re.compile(r"^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$")


def stored_households(app) -> list[Household]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Household)))


def set_status(app, household, status: str) -> None:
    """Statuses change only through later rules (visits, evacuations); set one directly."""
    with app.app_context():
        db.session.execute(
            sa.update(Household).where(Household.id == household.id).values(status=status)
        )
        db.session.commit()


def cursor_of(values) -> str:
    """A cursor in the list's encoding, carrying ``values`` (for forged cursors)."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


# --- create ------------------------------------------------------------------------------


def test_field_worker_creates_household_in_own_team(as_field_worker, team, app):
    response = as_field_worker.post(
        HOUSEHOLDS,
        json={
            "locality": "Riverside",
            "district": "Old Town",
            "address_description": "basement of the 5-storey block by school no. 11",
            "latitude": 48.5,
            "longitude": 37.9,
            "priority": "high",
            "needs": ["pets", "transport_money", "pets"],
            "contact_phone": "+380 50 000 0000",
        },
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert REF.match(body["ref"])
    assert body["status"] == "identified"
    assert body["team_id"] == str(team.id)
    assert body["priority"] == "high"
    assert body["needs"] == ["pets", "transport_money"]
    assert (body["latitude"], body["longitude"]) == (48.5, 37.9)
    assert body["member_count"] == 0
    assert body["child_count"] == 0
    assert body["version"] == 1
    assert body["last_visit_at"] is None
    assert response.headers["Location"] == f"/api/v1/households/{body['id']}"

    fetched = as_field_worker.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == body
    assert etag(fetched) == etag(response)
    assert [h.ref for h in stored_households(app)] == [body["ref"]]


def test_defaults_when_only_locality_is_given(as_field_worker):
    response = as_field_worker.post(HOUSEHOLDS, json={"locality": "Riverside"})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["priority"] == "normal"
    assert body["needs"] == []
    assert body["latitude"] is None and body["longitude"] is None


def test_refs_are_unique(as_field_worker):
    refs = {
        as_field_worker.post(HOUSEHOLDS, json={"locality": "Riverside"}).get_json()["ref"]
        for _ in range(5)
    }
    assert len(refs) == 5


@pytest.mark.parametrize(
    "field, value",
    [
        ("status", "evacuated"),
        ("ref", "AAA-AAA"),
        ("version", 7),
        ("member_count", 3),
        ("created_at", "2024-01-01T00:00:00+00:00"),
        ("colour", "blue"),
    ],
)
def test_read_only_and_unknown_fields_are_refused(as_field_worker, app, field, value):
    response = as_field_worker.post(HOUSEHOLDS, json={"locality": "Riverside", field: value})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert stored_households(app) == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"latitude": 48.5}, "latitude"),
        ({"longitude": 37.9}, "latitude"),
        ({"latitude": 48.5, "longitude": None}, "latitude"),
        ({"latitude": 91, "longitude": 37.9}, "latitude"),
        ({"latitude": 48.5, "longitude": 181}, "longitude"),
        ({"needs": ["transport_money", "helicopter"]}, "needs"),
        ({"priority": "whenever"}, "priority"),
        ({"locality": ""}, "locality"),
        ({"locality": "   "}, "locality"),
    ],
)
def test_invalid_fields_are_422(as_field_worker, app, body, field):
    response = as_field_worker.post(HOUSEHOLDS, json={"locality": "Riverside", **body})

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert stored_households(app) == []


def test_locality_is_required(as_field_worker, app):
    response = as_field_worker.post(HOUSEHOLDS, json={"district": "Old Town"})

    assert response.status_code == 422
    assert "locality" in response.get_json()["errors"]
    assert stored_households(app) == []


def test_field_worker_cannot_create_for_another_team(as_field_worker, other_team, app):
    response = as_field_worker.post(
        HOUSEHOLDS, json={"locality": "Riverside", "team_id": str(other_team.id)}
    )

    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]
    assert stored_households(app) == []


def test_field_worker_cannot_create_unassigned_household(as_field_worker, app):
    response = as_field_worker.post(HOUSEHOLDS, json={"locality": "Riverside", "team_id": None})

    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]
    assert stored_households(app) == []


def test_field_worker_may_name_own_team(as_field_worker, team):
    response = as_field_worker.post(
        HOUSEHOLDS, json={"locality": "Riverside", "team_id": str(team.id)}
    )

    assert response.status_code == 201
    assert response.get_json()["team_id"] == str(team.id)


def test_coordinator_creates_for_a_team_or_unassigned(as_coordinator, other_team):
    assigned = as_coordinator.post(
        HOUSEHOLDS, json={"locality": "Southgate", "team_id": str(other_team.id)}
    )
    unassigned = as_coordinator.post(HOUSEHOLDS, json={"locality": "Hillside"})

    assert assigned.status_code == 201
    assert assigned.get_json()["team_id"] == str(other_team.id)
    assert unassigned.status_code == 201
    assert unassigned.get_json()["team_id"] is None


def test_coordinator_cannot_assign_an_unknown_team(as_coordinator, app):
    response = as_coordinator.post(
        HOUSEHOLDS, json={"locality": "Riverside", "team_id": str(uuid.uuid4())}
    )

    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]
    assert stored_households(app) == []


def test_client_chosen_id_is_kept_and_a_duplicate_is_409(as_field_worker, app):
    chosen = str(uuid.uuid4())
    first = as_field_worker.post(HOUSEHOLDS, json={"id": chosen, "locality": "Riverside"})
    again = as_field_worker.post(HOUSEHOLDS, json={"id": chosen, "locality": "Hillside"})

    assert first.status_code == 201
    assert first.get_json()["id"] == chosen
    assert again.status_code == 409
    assert [h.locality for h in stored_households(app)] == ["Riverside"]


# --- change and assign -------------------------------------------------------------------


def test_coordinator_assigns_household_to_a_team(
    as_coordinator, as_field_worker, as_other_field_worker, household, other_team
):
    url = f"{HOUSEHOLDS}/{household.id}"
    current = as_coordinator.get(url)
    assert current.status_code == 200
    move = {"team_id": str(other_team.id)}

    missing = as_coordinator.patch(url, json=move)
    stale = as_coordinator.patch(url, json=move, headers={"If-Match": '"7"'})
    assert missing.status_code == 428
    assert missing.mimetype == "application/problem+json"
    assert stale.status_code == 412
    assert as_coordinator.get(url).get_json()["team_id"] == str(household.team_id)

    moved = as_coordinator.patch(url, json=move, headers={"If-Match": etag(current)})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["team_id"] == str(other_team.id)
    assert moved.get_json()["version"] == 2
    assert etag(moved) != etag(current)
    assert etag(moved) == etag_of(as_coordinator, url)

    # the old ETag is stale now
    again = as_coordinator.patch(url, json={"team_id": None}, headers={"If-Match": etag(current)})
    assert again.status_code == 412
    assert etag(again) == etag(moved)
    # the household moved between the teams' scopes
    assert as_field_worker.get(url).status_code == 404
    assert as_other_field_worker.get(url).status_code == 200


def test_field_worker_changes_own_household(as_field_worker, household):
    url = f"{HOUSEHOLDS}/{household.id}"
    response = as_field_worker.patch(
        url,
        json={"priority": "urgent", "needs": ["medical", "housing"], "notes": "door on the left"},
        headers={"If-Match": etag_of(as_field_worker, url)},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["priority"] == "urgent"
    assert body["needs"] == ["housing", "medical"]
    assert body["version"] == 2
    assert as_field_worker.get(url).get_json()["notes"] == "door on the left"


@pytest.mark.parametrize("team_id", ["other", None])
def test_field_worker_cannot_patch_team_id(as_field_worker, household, team, other_team, team_id):
    value = {"other": str(other_team.id), "own": str(team.id), None: None}[team_id]
    url = f"{HOUSEHOLDS}/{household.id}"
    headers = {"If-Match": etag_of(as_field_worker, url)}
    response = as_field_worker.patch(url, json={"team_id": value}, headers=headers)

    assert response.status_code == 422
    assert "team_id" in response.get_json()["errors"]
    after = as_field_worker.get(url).get_json()
    assert after["team_id"] == str(team.id)
    assert after["version"] == 1


def test_field_worker_may_restate_own_team_id(as_field_worker, household, team):
    url = f"{HOUSEHOLDS}/{household.id}"
    response = as_field_worker.patch(
        url, json={"team_id": str(team.id)}, headers={"If-Match": etag_of(as_field_worker, url)}
    )

    assert response.status_code == 200
    assert response.get_json()["team_id"] == str(team.id)


@pytest.mark.parametrize("field, value", [("status", "ready"), ("ref", "AAA-AAA"), ("id", None)])
def test_patch_refuses_read_only_fields(as_coordinator, household, field, value):
    value = value or str(uuid.uuid4())
    url = f"{HOUSEHOLDS}/{household.id}"
    headers = {"If-Match": etag_of(as_coordinator, url)}
    response = as_coordinator.patch(url, json={field: value}, headers=headers)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    after = as_coordinator.get(url).get_json()
    assert after["status"] == "identified"
    assert after["ref"] == household.ref
    assert after["version"] == 1


def test_patch_coordinates_together(as_field_worker, household):
    url = f"{HOUSEHOLDS}/{household.id}"
    headers = {"If-Match": etag_of(as_field_worker, url)}
    half = as_field_worker.patch(url, json={"latitude": 48.5}, headers=headers)
    both = as_field_worker.patch(url, json={"latitude": 48.5, "longitude": 37.9}, headers=headers)

    assert half.status_code == 422
    assert both.status_code == 200
    assert (both.get_json()["latitude"], both.get_json()["longitude"]) == (48.5, 37.9)


# --- scope -------------------------------------------------------------------------------


def test_another_teams_household_is_not_found(as_field_worker, foreign_household, app):
    url = f"{HOUSEHOLDS}/{foreign_household.id}"

    responses = [
        as_field_worker.get(url),
        as_field_worker.patch(url, json={"priority": "low"}, headers={"If-Match": '"1"'}),
        as_field_worker.get(f"{url}/members"),
        as_field_worker.post(f"{url}/members", json={"full_name": "Ivan", "estimated_age": 40}),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.mimetype == "application/problem+json" for r in responses)
    [stored] = stored_households(app)
    assert (stored.priority, stored.version) == ("normal", 1)
    assert ids(as_field_worker.get(HOUSEHOLDS)) == []


def test_unknown_household_is_not_found(as_coordinator):
    assert as_coordinator.get(f"{HOUSEHOLDS}/{uuid.uuid4()}").status_code == 404


def test_coordinator_sees_every_team(as_coordinator, household, foreign_household, make_household):
    unassigned = make_household(team=None, locality="Nowhere")

    listed = ids(as_coordinator.get(HOUSEHOLDS))

    assert sorted(listed) == sorted(str(h.id) for h in (household, foreign_household, unassigned))
    assert as_coordinator.get(f"{HOUSEHOLDS}/{foreign_household.id}").status_code == 200


def test_field_worker_lists_only_own_team(
    as_field_worker, household, foreign_household, make_household
):
    make_household(team=None, locality="Nowhere")

    assert ids(as_field_worker.get(HOUSEHOLDS)) == [str(household.id)]


def test_admin_has_no_access_to_households(as_admin, household, app):
    url = f"{HOUSEHOLDS}/{household.id}"

    responses = [
        as_admin.get(HOUSEHOLDS),
        as_admin.post(HOUSEHOLDS, json={"locality": "Riverside"}),
        as_admin.get(url),
        as_admin.patch(url, json={"priority": "low"}, headers={"If-Match": '"1"'}),
        as_admin.get(f"{url}/members"),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    assert len(stored_households(app)) == 1


def test_anonymous_is_401(anonymous, household):
    assert anonymous.get(HOUSEHOLDS).status_code == 401
    assert anonymous.get(f"{HOUSEHOLDS}/{household.id}").status_code == 401


# --- list filters --------------------------------------------------------------------------


def test_filter_by_status(as_field_worker, make_household, app):
    plain = make_household(locality="Riverside")
    engaging = make_household(locality="Hillside")
    set_status(app, engaging, "engaging")

    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"status": "engaging"})) == [
        str(engaging.id)
    ]
    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"status": "identified"})) == [
        str(plain.id)
    ]
    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"status": "closed"})) == []
    bad = as_field_worker.get(HOUSEHOLDS, query_string={"status": "lost"})
    assert bad.status_code == 422
    assert "status" in bad.get_json()["errors"]


def test_filter_by_priority(as_field_worker, make_household):
    urgent = make_household(priority="urgent")
    make_household(priority="low")

    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"priority": "urgent"})) == [
        str(urgent.id)
    ]
    assert as_field_worker.get(HOUSEHOLDS, query_string={"priority": "x"}).status_code == 422


def test_coordinator_filters_by_team(as_coordinator, household, foreign_household, other_team):
    listed = ids(as_coordinator.get(HOUSEHOLDS, query_string={"team_id": str(other_team.id)}))

    assert listed == [str(foreign_household.id)]
    bad = as_coordinator.get(HOUSEHOLDS, query_string={"team_id": "north"})
    assert bad.status_code == 422


def test_field_worker_team_filter_stays_in_scope(
    as_field_worker, household, foreign_household, other_team
):
    listed = ids(as_field_worker.get(HOUSEHOLDS, query_string={"team_id": str(other_team.id)}))

    assert listed == []


def test_search_by_ref_locality_and_member_name(
    as_field_worker, make_household, make_person, household
):
    hillside = make_household(locality="Hillside")
    make_person(household, full_name="Олена Шевченко")
    make_household(locality="Marsh")

    def search(q):
        return ids(as_field_worker.get(HOUSEHOLDS, query_string={"q": q}))

    assert search(hillside.ref.lower()) == [str(hillside.id)]
    assert search(hillside.ref[-3:]) == [str(hillside.id)]
    assert search("HILLS") == [str(hillside.id)]
    assert search("олена") == [str(household.id)]
    assert search("ШЕВЧ") == [str(household.id)]
    assert search("nobody") == []


def test_search_does_not_reach_other_teams(as_field_worker, foreign_household, make_person):
    make_person(foreign_household, full_name="Олена Коваль")

    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"q": "олена"})) == []
    assert ids(as_field_worker.get(HOUSEHOLDS, query_string={"q": "south"})) == []


def test_search_wildcards_are_literal(as_field_worker, make_household, make_person):
    percent = make_household(locality="Block 50% ruined")
    underscore = make_household(locality="Plain")
    make_person(underscore, full_name="Anna_Maria")
    make_household(locality="Riverside")

    def search(q):
        return ids(as_field_worker.get(HOUSEHOLDS, query_string={"q": q}))

    assert search("%") == [str(percent.id)]
    assert search("_") == [str(underscore.id)]
    assert search("a_m") == [str(underscore.id)]
    assert search("0%") == [str(percent.id)]


def test_search_is_validated(as_field_worker):
    assert as_field_worker.get(HOUSEHOLDS, query_string={"q": ""}).status_code == 422
    assert as_field_worker.get(HOUSEHOLDS, query_string={"q": "x" * 101}).status_code == 422


# --- pagination ----------------------------------------------------------------------------


def test_pages_walk_every_household_once_newest_first(as_field_worker, make_household):
    created = [str(make_household(locality=f"Street {i}").id) for i in range(5)]

    seen, pages, cursor = [], 0, None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = as_field_worker.get(HOUSEHOLDS, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == list(reversed(created))


def test_exact_page_has_no_next_cursor(as_field_worker, make_household):
    make_household()
    make_household()

    body = as_field_worker.get(HOUSEHOLDS, query_string={"limit": 2}).get_json()

    assert len(body["items"]) == 2
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": cursor_of([])}, "cursor"),
        ({"cursor": cursor_of(["2024-01-01T00:00:00+00:00", "zz"])}, "cursor"),
        ({"cursor": cursor_of(["2024-01-01T00:00:00", str(uuid.uuid4())])}, "cursor"),
        ({"cursor": cursor_of(["2024-01-01T00:00:00+00:00", 5])}, "cursor"),
        ({"stauts": "ready"}, "stauts"),
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_page_arguments_are_422(as_field_worker, household, query, field):
    response = as_field_worker.get(HOUSEHOLDS, query_string=query)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_largest_page_is_allowed(as_field_worker, household):
    response = as_field_worker.get(HOUSEHOLDS, query_string={"limit": 200})

    assert response.status_code == 200
    assert ids(response) == [str(household.id)]


# --- counts ------------------------------------------------------------------------------


def test_counts_present_members_and_children(
    as_field_worker, household, make_person, make_household
):
    make_person(household, age=35)  # adult
    make_person(household, date_of_birth=born(18))  # 18 today: adult
    make_person(household, date_of_birth=born(18, days=1))  # 18 tomorrow: child
    make_person(household, age=0)  # baby: child
    make_person(household, age=9, status="left")  # not here any more
    make_person(household, age=70, status="deceased")
    make_person(make_household(), age=5)  # another household's child

    url = f"{HOUSEHOLDS}/{household.id}"
    one = as_field_worker.get(url).get_json()
    items = as_field_worker.get(HOUSEHOLDS).get_json()["items"]
    [listed] = [item for item in items if item["id"] == one["id"]]
    patched = as_field_worker.patch(
        url, json={"priority": "high"}, headers={"If-Match": etag_of(as_field_worker, url)}
    ).get_json()

    for body in (one, listed, patched):
        assert (body["member_count"], body["child_count"]) == (4, 2)
