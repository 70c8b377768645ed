"""The Change record: what every consumer of the stream sees of one write.

Captured at the flush, finalised once before the commit: its values without anything
personal (the names of personal fields kept), and where it belongs — its household, its
person, its household's team — resolved for every kind of record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from app.auth.models import User
from app.changes import stream
from app.extensions import db
from app.households import persons
from app.households.models import Household

NAME = "Halyna Kravets"
NOTES = "Asthma; her inhaler is in the blue bag."


@pytest.fixture
def household(make_household, team):
    return make_household(team=team)


def test_a_create_keeps_codes_and_names_personal_fields_without_their_values(
    app, coordinator, household, team
):
    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        person = persons.add_member(
            actor,
            household.id,
            {"full_name": NAME, "estimated_age": 52, "sex": "female", "medical_notes": NOTES},
        )
        changes = stream.collect(db.session())
        again = stream.collect(db.session())
        db.session.commit()

    [change] = [c for c in changes if c.entity == "persons"]
    assert (change.action, change.entity_id) == ("create", str(person.id))
    assert (change.household_id, change.person_id, change.team_id) == (
        household.id,
        person.id,
        team.id,
    )
    # a direct call outside a request: the actor whose permission was checked
    assert (change.actor_id, change.request_id) == (coordinator.id, None)
    assert change.values["sex"] == "female"
    assert change.values["status"] == "present"
    assert change.values["household_id"] == str(household.id)
    assert set(change.personal_fields) == {"full_name", "date_of_birth", "medical_notes"}
    for withheld in ("full_name", "date_of_birth", "medical_notes"):
        assert withheld not in change.values
        assert change.touches(withheld)
        assert withheld in change.fields
    # bookkeeping is not followed
    assert not {"created_at", "updated_at", "version"} & set(change.values)
    text = json.dumps([dict(change.values), dict(change.changed)])
    assert "Halyna" not in text and "inhaler" not in text
    assert change.changed == {}
    assert isinstance(change.occurred_at, dt.datetime)
    # finalised once: a second collect hands out the same records
    assert [id(c) for c in again] == [id(c) for c in changes]


def test_an_update_names_what_changed_and_withholds_personal_values(
    app, coordinator, household, make_person
):
    person = make_person(household, full_name=NAME, age=40)
    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        persons.update_person(
            actor, person.id, {"full_name": "Halyna Kravets-Melnyk", "status": "missing"}
        )
        [change] = [c for c in stream.collect(db.session()) if c.entity == "persons"]
        db.session.commit()

    assert change.action == "update"
    assert change.changed == {"status": {"before": "present", "after": "missing"}}
    assert change.personal_fields == ("full_name",)
    assert change.values["status"] == "missing"  # its values after the change
    assert "full_name" not in change.values
    assert change.before("status") == "present"
    assert change.after("status") == "missing"
    assert change.touches("full_name") and change.touches("status")
    assert not change.touches("sex")
    assert change.fields == ("full_name", "status")
    assert "Kravets" not in json.dumps([dict(change.values), dict(change.changed)])


def test_a_change_is_immutable(app, coordinator, household):
    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        persons.add_member(actor, household.id, {"full_name": NAME, "estimated_age": 9})
        change = stream.collect(db.session())[0]
        db.session.rollback()

    with pytest.raises(dataclasses.FrozenInstanceError):
        change.action = "delete"  # type: ignore[misc]
    with pytest.raises(TypeError):
        change.values["status"] = "left"  # type: ignore[index]


def test_a_write_that_changes_nothing_followed_is_no_change(app, household):
    with app.app_context():
        row = db.session.get(Household, household.id)
        row.priority = row.priority
        row.updated_at = dt.datetime.now(dt.UTC)  # bookkeeping only
        assert [c for c in stream.collect(db.session()) if c.entity == "households"] == []
        db.session.rollback()


def test_a_rolled_back_unit_of_work_leaves_nothing_behind(app, coordinator, household):
    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        persons.add_member(actor, household.id, {"full_name": NAME, "estimated_age": 9})
        assert stream.collect(db.session())
        db.session.rollback()
        assert stream.collect(db.session()) == []


def test_each_kind_of_record_finds_its_household_person_and_team(
    recorded, as_field_worker, as_coordinator, team, make_offer
):
    """Through the API, as the tablet and the office would do it."""

    def ok(response, status=201) -> dict:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    household = ok(as_field_worker.post("/api/v1/households", json={"locality": "Riverside"}))
    hid = household["id"]
    members = f"/api/v1/households/{hid}/members"
    mother = ok(as_field_worker.post(members, json={"full_name": NAME, "estimated_age": 35}))
    child = ok(
        as_field_worker.post(members, json={"full_name": "Taras Kravets", "estimated_age": 7})
    )
    link = ok(
        as_field_worker.post(
            f"/api/v1/persons/{child['id']}/guardians",
            json={"guardian_person_id": mother["id"], "relationship": "mother"},
        )
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    consent = ok(
        as_field_worker.post(
            "/api/v1/consents",
            json={
                "subject_id": mother["id"],
                "basis": "self",
                "decision": "granted",
                "given_at": now,
                "evidence": "signed_form",
            },
        )
    )
    visit = ok(
        as_field_worker.post(
            f"/api/v1/households/{hid}/visits",
            json={
                "visited_at": now,
                "outcome": "talked",
                "stances": [{"person_id": child["id"], "stance": "undecided"}],
            },
        )
    )
    offer = make_offer()
    proposal = ok(
        as_field_worker.post(
            f"/api/v1/households/{hid}/housing-proposals", json={"offer_id": str(offer.id)}
        )
    )
    evacuation = ok(
        as_coordinator.post(
            "/api/v1/evacuations",
            json={
                "team_id": str(team.id),
                "planned_departure": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(),
                "mode": "on_foot",
                "meeting_point": "The old water tower",
            },
        )
    )
    ok(
        as_coordinator.post(
            f"/api/v1/evacuations/{evacuation['id']}/members", json={"person_id": mother["id"]}
        )
    )

    changes = [change for unit in recorded for change in unit]
    team_id = team.id

    def scope(entity: str, entity_id: str | None = None) -> set:
        return {
            (str(c.household_id or ""), str(c.person_id or ""), c.team_id)
            for c in changes
            if c.entity == entity and (entity_id is None or c.entity_id == entity_id)
        }

    assert scope("households") == {(hid, "", team_id)}  # created, then moved by the visit
    assert scope("persons", mother["id"]) == {(hid, mother["id"], team_id)}
    assert scope("persons", child["id"]) == {(hid, child["id"], team_id)}
    assert scope("guardianships", link["id"]) == {(hid, child["id"], team_id)}
    assert scope("consent_records", consent["id"]) == {(hid, mother["id"], team_id)}
    assert scope("visits", visit["id"]) == {(hid, "", team_id)}
    assert scope("visit_stances") == {(hid, child["id"], team_id)}
    assert scope("housing_proposals", proposal["id"]) == {(hid, "", team_id)}
    assert scope("evacuation_members") == {(hid, mother["id"], team_id)}
    # an evacuation is its team's; its members' households are reached through them
    assert scope("evacuations", evacuation["id"]) == {("", "", team_id)}
    # offers and the staff's own records belong to no household and no team
    assert scope("housing_offers") == {("", "", None)}
    assert scope("api_tokens") == {("", "", None)}
    # every write of the request is its user's
    assert {c.actor_id for c in changes if c.entity == "visits"} == {as_field_worker.user.id}
    assert {c.actor_id for c in changes if c.entity == "evacuations"} == {as_coordinator.user.id}
