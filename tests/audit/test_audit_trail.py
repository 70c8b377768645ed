"""The audit trail: who did and saw what, chained so that no edit goes unnoticed."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from app.audit.chain import verify_chain
from app.audit.models import AuditEvent
from app.extensions import db
from tests.conftest import PASSWORD
from tests.http_helpers import etag_of


def _events(app, after: int = 0, **where) -> list[AuditEvent]:
    with app.app_context():
        stmt = sa.select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, key) == value)
        return list(db.session.scalars(stmt))


def _last_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


def test_a_write_records_who_what_and_the_changed_fields(
    app, as_field_worker, field_worker, make_household, team
):
    household = make_household(team=team)
    url = f"/api/v1/households/{household.id}"
    etag = etag_of(as_field_worker, url)
    mark = _last_id(app)
    response = as_field_worker.patch(
        url,
        json={"priority": "urgent", "notes": "Grandmother has asthma"},
        headers={"If-Match": etag, "X-Request-ID": "tablet7-req-0042"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "tablet7-req-0042"
    [event, look] = _events(app, mark, entity_type="households")
    assert event.action == "update"
    # the answer shows the whole record: the change's author looked at it too
    assert (look.action, look.entity_id, look.request_id) == (
        "read",
        str(household.id),
        "tablet7-req-0042",
    )
    assert event.actor_id == field_worker.id
    assert event.entity_id == str(household.id)
    assert event.request_id == "tablet7-req-0042"
    assert event.details["changed"]["priority"] == {"before": "normal", "after": "urgent"}
    # personal values never enter the trail: only that they changed
    assert event.details["personal_fields"] == ["notes"]
    assert "asthma" not in json.dumps(event.details)
    assert event.occurred_at.tzinfo is not None


def test_reads_of_people_consents_eligibility_and_photos_are_recorded(
    app,
    as_field_worker,
    make_household,
    make_person,
    make_consent,
    field_worker,
    team,
    make_offer,
    make_photo,
):
    household = make_household(team=team)
    person = make_person(household, age=40)
    consent = make_consent(field_worker, person, "self", "granted")
    offer = make_offer()
    photo = make_photo(offer)
    mark = _last_id(app)
    for url in (
        f"/api/v1/persons/{person.id}",
        f"/api/v1/households/{household.id}/members",
        f"/api/v1/persons/{person.id}/eligibility",
        f"/api/v1/consents/{consent.id}",
        f"/api/v1/housing-offers/{offer.id}/photos/{photo.id}",
    ):
        assert as_field_worker.get(url).status_code == 200, url
    reads = [(e.entity_type, e.entity_id) for e in _events(app, mark, action="read")]
    assert reads == [
        ("persons", str(person.id)),
        ("persons", str(person.id)),
        ("eligibility", str(person.id)),
        ("consent_records", str(consent.id)),
        ("persons", str(person.id)),  # the consent shows whose it is
        ("housing_photos", str(photo.id)),
    ]


def test_no_secrets_in_the_trail(app, as_admin, client, make_user):
    mark = _last_id(app)
    created = as_admin.post(
        "/api/v1/users",
        json={"username": "newfield", "role": "coordinator", "password": "a-very-long-secret-1"},
    )
    assert created.status_code == 201
    login = client.post(
        "/api/v1/auth/tokens", json={"username": "newfield", "password": "a-very-long-secret-1"}
    )
    token = login.get_json()["token"]
    text = json.dumps([e.details for e in _events(app, mark)])
    assert "a-very-long-secret-1" not in text
    assert token not in text
    assert "$argon2" not in text


def test_failed_logins_forbidden_attempts_and_revocations_are_recorded(
    app, client, as_field_worker, as_admin, field_worker
):
    mark = _last_id(app)
    client.post("/api/v1/auth/tokens", json={"username": "fieldworker", "password": "nope"})
    as_field_worker.get("/api/v1/users")
    as_admin.delete(f"/api/v1/users/{field_worker.id}/tokens")
    actions = [(e.action, e.details.get("status")) for e in _events(app, mark)]
    assert ("refused.invalid_credentials", 401) in actions
    assert ("refused.role_forbidden", 403) in actions
    assert ("revoke_all_tokens", None) in actions
    [failed] = _events(app, mark, action="refused.invalid_credentials")
    assert failed.details["username"] == "fieldworker"
    assert "nope" not in json.dumps(failed.details)


def test_throttled_logins_are_recorded(app, client, field_worker):
    mark = _last_id(app)
    for _ in range(7):
        client.post("/api/v1/auth/tokens", json={"username": "fieldworker", "password": "x"})
    assert _events(app, mark, action="refused.too_many_requests")


def test_admins_search_the_trail_newest_first(app, as_admin, as_field_worker):
    # created through the API, whose answer gives the ETag: a GET for it would add a look
    created = as_field_worker.post("/api/v1/households", json={"locality": "Riverside"})
    household_id = created.get_json()["id"]
    as_field_worker.patch(
        f"/api/v1/households/{household_id}",
        json={"priority": "high"},
        headers={"If-Match": created.headers["ETag"]},
    )
    page = as_admin.get(
        "/api/v1/audit-events",
        query_string={"entity_type": "households", "entity_id": household_id, "limit": 2},
    ).get_json()
    # each change answered with the record: its look comes right after it
    assert [e["action"] for e in page["items"]] == ["read", "update"]
    older = as_admin.get(
        "/api/v1/audit-events",
        query_string={
            "entity_type": "households",
            "entity_id": household_id,
            "cursor": page["next_cursor"],
            "limit": 2,
        },
    ).get_json()
    assert [e["action"] for e in older["items"]] == ["read", "create"]
    assert as_field_worker.get("/api/v1/audit-events").status_code == 403


def test_the_chain_verifies(app, as_admin, as_field_worker):
    as_field_worker.get("/api/v1/me")
    result = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert result["ok"] is True
    assert result["checked"] >= 1
    assert result["first_broken_id"] is None


@pytest.mark.commits
def test_the_database_refuses_to_change_or_remove_an_event(app, as_field_worker):
    as_field_worker.get("/api/v1/me")
    last = _last_id(app)
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.update(AuditEvent).where(AuditEvent.id == last).values(action="x"))
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.delete(AuditEvent).where(AuditEvent.id == last))


@pytest.mark.slow
@pytest.mark.commits
def test_concurrent_writers_never_fork_the_chain(app, make_user, team):
    """Eight requests at once, each on its own connection: one unbroken chain."""
    users = [make_user("field_worker", team) for _ in range(8)]
    tokens = []
    with app.test_client() as c:
        for user in users:
            tokens.append(
                c.post(
                    "/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD}
                ).get_json()["token"]
            )
    mark = _last_id(app)
    barrier = threading.Barrier(len(tokens))
    statuses = []

    def create(token):
        with app.test_client() as c:
            barrier.wait()
            for _ in range(3):
                r = c.post(
                    "/api/v1/households",
                    json={"locality": "Riverside"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                statuses.append(r.status_code)

    threads = [threading.Thread(target=create, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 24
    new = _events(app, mark, entity_type="households", action="create")
    assert len(new) == 24
    with app.app_context():
        ids = list(
            db.session.scalars(
                sa.select(AuditEvent.id).where(AuditEvent.id > mark).order_by(AuditEvent.id)
            )
        )
        assert ids == list(range(mark + 1, mark + 1 + len(ids)))
        assert verify_chain().ok


def test_what_people_said_on_a_visit_stays_out_of_the_trail(
    app, as_field_worker, make_household, make_person, team
):
    household = make_household(team=team)
    mother = make_person(household, age=33)
    mark = _last_id(app)
    response = as_field_worker.post(
        f"/api/v1/households/{household.id}/visits",
        json={
            "visited_at": "2026-11-20T10:00:00+00:00",
            "outcome": "talked",
            "stances": [
                {"person_id": str(mother.id), "stance": "wants_to_stay", "note": "hides a child"}
            ],
        },
    )
    assert response.status_code == 201
    events = _events(app, mark)
    assert {e.entity_type for e in events} >= {"visits", "visit_stances"}
    assert "hides a child" not in json.dumps([e.details for e in events])
