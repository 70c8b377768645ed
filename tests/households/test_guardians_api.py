"""Guardianship links through the HTTP API: who may be a guardian, who is a parent, scope."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.households.models import Guardianship
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born, etag
from tests.http_helpers import etag_of

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


def guardians_url(child) -> str:
    return f"/api/v1/persons/{child.id}/guardians"


def link_url(link_id) -> str:
    return f"/api/v1/guardianships/{link_id}"


def stored_links(app) -> list[Guardianship]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Guardianship)))


@pytest.fixture
def family(household, make_person):
    """A mother, her two children, a grandmother; all present in Team North's household."""
    return SimpleNamespace(
        mother=make_person(household, full_name="Olena", age=34, sex="female"),
        child=make_person(household, full_name="Dmytro", date_of_birth=born(8)),
        sibling=make_person(household, full_name="Iryna", date_of_birth=born(17)),
        grandmother=make_person(household, full_name="Halyna", age=66, sex="female"),
    )


# --- linking -------------------------------------------------------------------------------


def test_mother_in_the_household_is_a_parent(as_field_worker, family, app):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(family.mother.id), "relationship": "mother"},
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["child_id"] == str(family.child.id)
    assert body["guardian_person_id"] == str(family.mother.id)
    assert body["external_name"] is None
    assert body["relationship"] == "mother"
    assert body["legal_status"] == "active"
    assert body["is_parent"] is True
    assert body["version"] == 1
    assert response.headers["Location"] == link_url(body["id"])
    assert etag_of(as_field_worker, response.headers["Location"]) == etag(response)
    assert [str(link.id) for link in stored_links(app)] == [body["id"]]


def test_father_abroad_is_an_external_parent(as_field_worker, family):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={
            "external_name": "  Taras Shevchenko ",
            "external_contact": "+48 600 000 000 (Warsaw)",
            "relationship": "father",
        },
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["guardian_person_id"] is None
    assert body["external_name"] == "Taras Shevchenko"
    assert body["external_contact"] == "+48 600 000 000 (Warsaw)"
    assert body["is_parent"] is True


def test_grandparent_is_not_a_parent(as_field_worker, family):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(family.grandmother.id), "relationship": "grandparent"},
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["is_parent"] is False


@pytest.mark.parametrize(
    "relationship, legal_status, is_parent",
    [
        ("mother", "deceased", False),
        ("father", "missing", False),
        ("adoptive_parent", "deprived_of_rights", False),
        ("adoptive_parent", "active", True),
        ("legal_guardian", "active", False),
        ("sibling", "active", False),
        ("other_relative", "active", False),
        ("other", "active", False),
    ],
)
def test_only_active_mother_father_or_adoptive_parent_is_a_parent(
    as_field_worker, family, relationship, legal_status, is_parent
):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={
            "external_name": "Someone",
            "relationship": relationship,
            "legal_status": legal_status,
        },
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["legal_status"] == legal_status
    assert response.get_json()["is_parent"] is is_parent


def test_deceased_mother_on_record_is_not_a_parent(as_field_worker, family):
    response = as_field_worker.post(
        guardians_url(family.sibling),
        json={
            "guardian_person_id": str(family.mother.id),
            "relationship": "mother",
            "legal_status": "deceased",
        },
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["is_parent"] is False


def test_a_guardian_who_is_a_child_is_refused(as_field_worker, family, app):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(family.sibling.id), "relationship": "sibling"},
    )

    assert response.status_code == 422
    assert "guardian_person_id" in response.get_json()["errors"]
    assert stored_links(app) == []


def test_a_guardian_turning_18_tomorrow_is_refused(as_field_worker, household, family, make_person):
    almost = make_person(household, full_name="Almost adult", date_of_birth=born(18, days=1))
    adult = make_person(household, full_name="Just adult", date_of_birth=born(18))

    refused = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(almost.id), "relationship": "sibling"},
    )
    accepted = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(adult.id), "relationship": "sibling"},
    )

    assert refused.status_code == 422
    assert accepted.status_code == 201


def test_a_child_cannot_be_their_own_guardian(as_field_worker, family, app):
    response = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(family.child.id), "relationship": "other"},
    )

    assert response.status_code == 422
    assert "guardian_person_id" in response.get_json()["errors"]
    assert stored_links(app) == []


@pytest.mark.parametrize("subject", ["mother", "grandmother"])
def test_guardians_are_recorded_for_children_only(as_field_worker, family, app, subject):
    response = as_field_worker.post(
        guardians_url(getattr(family, subject)),
        json={"external_name": "Someone", "relationship": "mother"},
    )

    assert response.status_code == 422
    assert "child_id" in response.get_json()["errors"]
    assert stored_links(app) == []


def test_eighteen_year_old_subject_is_an_adult(as_field_worker, household, make_person, app):
    adult = make_person(household, date_of_birth=born(18))

    response = as_field_worker.post(
        guardians_url(adult), json={"external_name": "Someone", "relationship": "mother"}
    )

    assert response.status_code == 422
    assert stored_links(app) == []


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"guardian_person_id": "MOTHER", "external_name": "Olena", "relationship": "mother"},
            "guardian_person_id",
        ),
        ({"relationship": "mother"}, "guardian_person_id"),
        ({"external_name": "   ", "relationship": "mother"}, "guardian_person_id"),
        ({"external_contact": "+48 600", "relationship": "father"}, "guardian_person_id"),
        (
            {"guardian_person_id": "MOTHER", "external_contact": "+48", "relationship": "mother"},
            "external_contact",
        ),
        ({"external_name": "Olena"}, "relationship"),
        ({"external_name": "Olena", "relationship": "aunt"}, "relationship"),
        ({"external_name": "Olena", "relationship": "mother", "legal_status": "x"}, "legal_status"),
        ({"external_name": "Olena", "relationship": "mother", "is_parent": True}, "is_parent"),
        ({"external_name": "Olena", "relationship": "mother", "child_id": "MOTHER"}, "child_id"),
        ({"external_name": "Olena", "relationship": "mother", "version": 3}, "version"),
        ({"external_name": "x" * 201, "relationship": "mother"}, "external_name"),
        ({"guardian_person_id": "not-a-uuid", "relationship": "mother"}, "guardian_person_id"),
        ({"guardian_person_id": str(uuid.uuid4()), "relationship": "mother"}, "guardian_person_id"),
    ],
)
def test_invalid_links_are_422_and_not_stored(as_field_worker, family, app, body, field):
    body = {k: str(family.mother.id) if v == "MOTHER" else v for k, v in body.items()}

    response = as_field_worker.post(guardians_url(family.child), json=body)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert stored_links(app) == []


def test_the_same_guardian_twice_is_409(as_field_worker, family, app):
    body = {"guardian_person_id": str(family.mother.id), "relationship": "mother"}
    first = as_field_worker.post(guardians_url(family.child), json=body)
    again = as_field_worker.post(
        guardians_url(family.child), json={**body, "relationship": "legal_guardian"}
    )

    assert first.status_code == 201
    assert again.status_code == 409
    assert again.get_json()["code"] == "duplicate_link"
    assert [link.relationship for link in stored_links(app)] == ["mother"]


def test_one_guardian_for_two_children_is_fine(as_field_worker, family):
    body = {"guardian_person_id": str(family.mother.id), "relationship": "mother"}

    assert as_field_worker.post(guardians_url(family.child), json=body).status_code == 201
    assert as_field_worker.post(guardians_url(family.sibling), json=body).status_code == 201


def test_client_chosen_id_is_honoured_and_a_duplicate_is_409(as_field_worker, family, app):
    chosen = str(uuid.uuid4())
    body = {"id": chosen, "external_name": "Taras", "relationship": "father"}

    first = as_field_worker.post(guardians_url(family.child), json=body)
    again = as_field_worker.post(guardians_url(family.sibling), json=body)

    assert first.status_code == 201
    assert first.get_json()["id"] == chosen
    assert again.status_code == 409
    assert len(stored_links(app)) == 1


def test_guardian_from_another_teams_household_is_refused(
    as_field_worker, family, foreign_household, make_person, app
):
    stranger = make_person(foreign_household, full_name="Stranger", age=40)

    response = as_field_worker.post(
        guardians_url(family.child),
        json={"guardian_person_id": str(stranger.id), "relationship": "other"},
    )

    assert response.status_code == 422
    assert "guardian_person_id" in response.get_json()["errors"]
    assert stored_links(app) == []


# --- listing and changing ------------------------------------------------------------------


def test_list_a_childs_guardians(as_field_worker, family, make_guardian):
    mother = make_guardian(family.child, family.mother, "mother")
    father = make_guardian(family.child, None, "father", external_name="Taras")
    make_guardian(family.sibling, family.grandmother, "grandparent")

    response = as_field_worker.get(guardians_url(family.child))

    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [str(mother.id), str(father.id)]
    assert [item["is_parent"] for item in body["items"]] == [True, True]
    assert body["next_cursor"] is None
    assert as_field_worker.get(guardians_url(family.mother)).get_json()["items"] == []


def test_guardians_list_is_paginated(as_field_worker, family, make_guardian):
    created = [
        str(make_guardian(family.child, None, "other", external_name=f"Helper {i}").id)
        for i in range(3)
    ]

    first = as_field_worker.get(guardians_url(family.child), query_string={"limit": 2}).get_json()
    second = as_field_worker.get(
        guardians_url(family.child), query_string={"limit": 2, "cursor": first["next_cursor"]}
    ).get_json()

    assert [item["id"] for item in first["items"] + second["items"]] == created
    assert second["next_cursor"] is None


def test_patch_legal_status_and_is_parent_follows(
    as_field_worker, as_coordinator, family, make_guardian
):
    link = make_guardian(family.child, family.mother, "mother")
    url = link_url(link.id)
    current = as_field_worker.get(url)
    assert current.status_code == 200
    assert current.get_json()["is_parent"] is True

    deceased = {"legal_status": "deceased"}
    assert as_coordinator.patch(url, json=deceased).status_code == 428
    assert as_coordinator.patch(url, json=deceased, headers={"If-Match": '"9"'}).status_code == 412
    # a parent who can no longer decide loses their say: a coordinator confirms it
    refused = as_field_worker.patch(url, json=deceased, headers={"If-Match": etag(current)})
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "coordinator_required"

    changed = as_coordinator.patch(url, json=deceased, headers={"If-Match": etag(current)})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["legal_status"] == "deceased"
    assert changed.get_json()["is_parent"] is False
    assert changed.get_json()["version"] == 2
    assert etag(changed) != etag(current)
    assert etag(changed) == etag_of(as_field_worker, url)

    listed = as_field_worker.get(guardians_url(family.child)).get_json()["items"]
    assert [(item["legal_status"], item["is_parent"]) for item in listed] == [("deceased", False)]

    restored = as_field_worker.patch(
        url, json={"legal_status": "active"}, headers={"If-Match": etag(changed)}
    )
    assert restored.get_json()["is_parent"] is True


def test_patch_relationship_changes_is_parent(as_field_worker, family, make_guardian):
    link = make_guardian(family.child, family.grandmother, "legal_guardian")
    url = link_url(link.id)

    changed = as_field_worker.patch(
        url,
        json={"relationship": "adoptive_parent"},
        headers={"If-Match": etag_of(as_field_worker, url)},
    )

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["is_parent"] is True


def test_patch_external_guardian_contact(as_field_worker, family, make_guardian):
    link = make_guardian(family.child, None, "father", external_name="Taras")
    url = link_url(link.id)

    changed = as_field_worker.patch(
        url,
        json={"external_contact": "+48 600 111 222"},
        headers={"If-Match": etag_of(as_field_worker, url)},
    )
    blank = as_field_worker.patch(
        url, json={"external_name": " "}, headers={"If-Match": etag(changed)}
    )

    assert changed.status_code == 200
    assert changed.get_json()["external_contact"] == "+48 600 111 222"
    assert blank.status_code == 422
    assert as_field_worker.get(url).get_json()["external_name"] == "Taras"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"external_name": "Someone else"}, "external_name"),
        ({"guardian_person_id": str(uuid.uuid4())}, "guardian_person_id"),
        ({"child_id": str(uuid.uuid4())}, "child_id"),
        ({"legal_status": "retired"}, "legal_status"),
        ({"is_parent": False}, "is_parent"),
    ],
)
def test_invalid_guardianship_patch_is_422(as_field_worker, family, make_guardian, change, field):
    link = make_guardian(family.child, family.mother, "mother")
    url = link_url(link.id)

    headers = {"If-Match": etag_of(as_field_worker, url)}
    response = as_field_worker.patch(url, json=change, headers=headers)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    after = as_field_worker.get(url).get_json()
    assert (after["version"], after["is_parent"], after["external_name"]) == (1, True, None)


# --- scope ---------------------------------------------------------------------------------


def test_another_teams_child_is_not_found(
    as_field_worker, as_coordinator, foreign_household, make_person, make_guardian, app
):
    child = make_person(foreign_household, date_of_birth=born(6))
    link = make_guardian(child, None, "mother", external_name="Maria")

    responses = [
        as_field_worker.get(guardians_url(child)),
        as_field_worker.post(
            guardians_url(child), json={"external_name": "Petro", "relationship": "father"}
        ),
        as_field_worker.get(link_url(link.id)),
        as_field_worker.patch(
            link_url(link.id), json={"legal_status": "missing"}, headers={"If-Match": '"1"'}
        ),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    [stored] = stored_links(app)
    assert (stored.legal_status, stored.version) == ("active", 1)
    assert as_coordinator.get(link_url(link.id)).status_code == 200


def test_unknown_child_or_link_is_not_found(as_coordinator):
    assert as_coordinator.get(f"/api/v1/persons/{uuid.uuid4()}/guardians").status_code == 404
    assert as_coordinator.get(link_url(uuid.uuid4())).status_code == 404


def test_admin_cannot_see_guardians(as_admin, family, make_guardian):
    link = make_guardian(family.child, family.mother, "mother")

    assert as_admin.get(guardians_url(family.child)).status_code == 403
    assert as_admin.get(link_url(link.id)).status_code == 403
    body = {"external_name": "X", "relationship": "father"}
    assert as_admin.post(guardians_url(family.child), json=body).status_code == 403
