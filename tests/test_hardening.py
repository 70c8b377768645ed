"""Input no handler expects: it gets a clear 4xx, never a 5xx, and nothing is stored."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.auth.models import ApiToken
from app.extensions import db
from app.households.models import Household
from tests.http_helpers import etag_of

PROBLEM = "application/problem+json"


def _households(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Household.id)))


def test_deeply_nested_json_is_400(as_field_worker, anonymous, app):
    deep = "[" * 100_000
    for api, url in ((as_field_worker, "/api/v1/households"), (anonymous, "/api/v1/auth/tokens")):
        response = api.post(url, data=deep, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, url
        assert response.mimetype == PROBLEM
        assert response.get_json()["code"] == "malformed_body"
    assert _households(app) == 0


def test_nul_bytes_and_lone_surrogates_are_422(as_field_worker, anonymous, app):
    for body in ('{"locality": "River\\u0000side"}', '{"locality": "\\ud800"}'):
        response = as_field_worker.post(
            "/api/v1/households", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, body
        assert "locality" in response.get_json()["errors"]
    login = anonymous.post(
        "/api/v1/auth/tokens",
        data='{"username": "a\\u0000b", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code == 422
    search = as_field_worker.get("/api/v1/households", query_string={"q": "a\x00b"})
    assert search.status_code == 422
    assert _households(app) == 0


def test_a_tampered_cursor_is_422(as_field_worker, make_household, team):
    for _ in range(3):
        make_household(team=team)
    cursor = as_field_worker.get("/api/v1/households?limit=1").get_json()["next_cursor"]
    payload, _, signature = cursor.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    for bad in (forged, payload, cursor + "0", "W1tbW1tbW1s." + signature):
        response = as_field_worker.get("/api/v1/households", query_string={"cursor": bad})
        assert response.status_code == 422, bad
        assert "cursor" in response.get_json()["errors"]
    assert as_field_worker.get(f"/api/v1/households?limit=1&cursor={cursor}").status_code == 200


def test_a_guardian_on_record_lives_in_the_childs_household(
    as_field_worker, make_household, make_person, team
):
    home = make_household(team=team)
    elsewhere = make_household(team=team)
    child = make_person(home, age=7)
    stranger = make_person(elsewhere, age=40)
    response = as_field_worker.post(
        f"/api/v1/persons/{child.id}/guardians",
        json={"guardian_person_id": str(stranger.id), "relationship": "mother"},
    )
    assert response.status_code == 422
    assert "guardian_person_id" in response.get_json()["errors"]


def test_blank_outside_contact_on_a_person_link_is_422_not_409(
    as_field_worker, make_household, make_person, make_guardian, team
):
    home = make_household(team=team)
    child = make_person(home, age=7)
    mother = make_person(home, age=30)
    link = make_guardian(child, mother, "mother")
    url = f"/api/v1/guardianships/{link.id}"
    headers = {"If-Match": etag_of(as_field_worker, url)}
    for field in ("external_contact", "external_name"):
        response = as_field_worker.patch(url, json={field: ""}, headers=headers)
        assert response.status_code == 422, field
        assert field in response.get_json()["errors"]


def test_failed_logins_elsewhere_do_not_lock_a_worker_out(client, field_worker):
    """Five wrong passwords from a stranger's address; the worker's own address still works."""
    for _ in range(6):
        client.post(
            "/api/v1/auth/tokens",
            json={"username": field_worker.username, "password": "wrong-password-here"},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )
    stranger = client.post(
        "/api/v1/auth/tokens",
        json={"username": field_worker.username, "password": "correct-horse-battery"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert stranger.status_code == 429
    worker = client.post(
        "/api/v1/auth/tokens",
        json={"username": field_worker.username, "password": "correct-horse-battery"},
        environ_base={"REMOTE_ADDR": "203.0.113.20"},
    )
    assert worker.status_code == 201


def test_a_read_records_the_tokens_last_use(app, as_field_worker):
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(last_used_at=long_ago))
        db.session.commit()
    assert as_field_worker.get("/api/v1/me").status_code == 200
    with app.app_context():
        last_used = db.session.scalar(sa.select(ApiToken.last_used_at))
    assert last_used > long_ago + dt.timedelta(minutes=59)


def test_unstorable_times_are_422(as_field_worker, make_household, make_person, team):
    household = make_household(team=team)
    adult = make_person(household, age=40)
    for moment in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-05:00"):
        visit = as_field_worker.post(
            f"/api/v1/households/{household.id}/visits",
            json={"visited_at": moment, "outcome": "talked"},
        )
        assert visit.status_code == 422, moment
        consent = as_field_worker.post(
            "/api/v1/consents",
            json={
                "subject_id": str(adult.id),
                "basis": "self",
                "decision": "granted",
                "given_at": moment,
                "evidence": "signed_form",
            },
        )
        assert consent.status_code == 422, moment
    before_birth = as_field_worker.post(
        "/api/v1/consents",
        json={
            "subject_id": str(adult.id),
            "basis": "self",
            "decision": "granted",
            "given_at": "1950-01-01T10:00:00+00:00",
            "evidence": "signed_form",
        },
    )
    assert before_birth.status_code == 422
    assert "given_at" in before_birth.get_json()["errors"]
