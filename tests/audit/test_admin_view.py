"""Administrators read the audit trail without case data: which fields, never their values.

The stored details are what the chain's hashes cover; the view filters only what it shows,
so verification still holds.
"""

from __future__ import annotations

import json

from app.audit import chain, reading
from app.audit.models import AuditEvent
from app.extensions import db

CASE_VALUES = (
    "Zqadminlocality",
    "Zq Admin district",
    "pending_review",
    "parental_refusal",
    "consent_pending_review",
)


def _case(make_household, make_person, make_guardian, make_consent, field_worker, team):
    household = make_household(team=team, locality="Zqadminlocality", district="Zq Admin district")
    mother = make_person(household, age=30)
    child = make_person(household, age=4)
    link = make_guardian(child, mother, "mother")
    consent = make_consent(field_worker, child, "parental", "granted", guardianship=link)
    return household, child, consent


def test_admins_see_which_fields_of_a_case_changed_not_their_values(
    app,
    as_admin,
    as_field_worker,
    field_worker,
    team,
    make_household,
    make_person,
    make_guardian,
    make_consent,
):
    household, child, consent = _case(
        make_household, make_person, make_guardian, make_consent, field_worker, team
    )
    patched = as_field_worker.patch(
        f"/api/v1/households/{household.id}",
        json={"district": "Zq Other district", "priority": "urgent"},
        headers={"If-Match": "*"},
    )
    assert patched.status_code == 200
    assert as_field_worker.get(f"/api/v1/persons/{child.id}/eligibility").status_code == 200

    events = []
    for entity_id in (household.id, consent.id, child.id):
        page = as_admin.get(
            "/api/v1/audit-events", query_string={"entity_id": str(entity_id), "limit": 200}
        )
        assert page.status_code == 200
        events += page.get_json()["items"]
    text = json.dumps(events)
    for value in (*CASE_VALUES, "Zq Other district", "urgent"):
        assert value not in text, value

    by_action = {(e["entity_type"], e["action"]): e for e in events}
    created = by_action[("households", "create")]["details"]
    assert {"locality", "district", "status", "priority"} <= set(created["fields"])
    updated = by_action[("households", "update")]["details"]
    assert updated["changed"] == ["district", "priority"]
    recorded = by_action[("consent_records", "create")]["details"]
    assert {"decision", "review_status", "basis"} <= set(recorded["fields"])
    eligibility = by_action[("eligibility", "read")]
    assert eligibility["entity_id"] == str(child.id)
    assert eligibility["details"] == {
        "withheld": ["consent_id", "eligible", "reasons", "requirement"]
    }
    # who, what, which record, when and under which request: all still there
    for event in events:
        assert event["hash"] and event["prev_hash"] and event["occurred_at"]
    assert by_action[("households", "update")]["actor_id"] == str(field_worker.id)
    assert by_action[("households", "update")]["request_id"] == patched.headers["X-Request-ID"]

    verified = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert verified["ok"] is True and verified["first_broken_id"] is None


def test_what_is_stored_and_hashed_keeps_its_values(
    app, field_worker, team, make_household, make_person, make_guardian, make_consent
):
    """The view filters; the record itself is whole (and its hash verifies)."""
    household, _, _ = _case(
        make_household, make_person, make_guardian, make_consent, field_worker, team
    )
    with app.app_context():
        stored = db.session.scalars(
            reading.events_query(entity_id=str(household.id), action="create")
        ).one()
        assert stored.details["fields"]["locality"] == "Zqadminlocality"
        [shown] = reading.load_for_admin(
            reading.events_query(entity_id=str(household.id), action="create")
        )
        assert "Zqadminlocality" not in json.dumps(shown.details)
        assert "locality" in shown.details["fields"]
        assert (shown.id, shown.hash, shown.prev_hash) == (stored.id, stored.hash, stored.prev_hash)
        assert chain.verify_chain().ok


def test_account_and_security_events_are_shown_in_full(app, as_admin, client):
    created = as_admin.post(
        "/api/v1/users",
        json={
            "username": "zqnewcoordinator",
            "role": "coordinator",
            "full_name": "Zq Staff Name",
            "password": "a-long-and-unusual-passphrase-zq",
        },
    )
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    client.post("/api/v1/auth/tokens", json={"username": "zqnewcoordinator", "password": "no"})

    [made] = as_admin.get(
        "/api/v1/audit-events", query_string={"entity_id": user_id, "action": "create"}
    ).get_json()["items"]
    assert made["details"]["fields"]["role"] == "coordinator"
    assert made["details"]["fields"]["username"] == "zqnewcoordinator"
    assert "full_name" in made["details"]["personal_fields"]
    assert "Zq Staff Name" not in json.dumps(made)  # personal values are never stored
    refused = as_admin.get(
        "/api/v1/audit-events", query_string={"action": "refused.invalid_credentials", "limit": 1}
    ).get_json()["items"][0]
    assert refused["details"]["username"] == "zqnewcoordinator"
    assert refused["details"]["status"] == 401


def test_the_stored_details_of_case_events_never_change(app):
    """Withholding builds a new view; the event loaded from the database is untouched."""
    with app.app_context():
        event = AuditEvent(
            id=0,
            occurred_at=None,
            actor_id=None,
            action="update",
            entity_type="persons",
            entity_id="x",
            request_id=None,
            details={"changed": {"status": {"before": "present", "after": "missing"}}},
            prev_hash="0" * 64,
            hash="0" * 64,
        )
        shown = reading.admin_view(event)
        assert shown.details == {"changed": ["status"]}
        assert event.details["changed"]["status"]["after"] == "missing"
