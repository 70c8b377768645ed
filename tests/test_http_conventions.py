"""The shared API mechanisms of DESIGN §5, seen from a client."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.households.models import Household
from app.idempotency.models import IdempotencyKey
from app.idempotency.service import fingerprint

PROBLEM = "application/problem+json"


def _household_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Household.id)))


# --- problems ----------------------------------------------------------------------------


def test_unknown_route_is_a_problem(anonymous):
    response = anonymous.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 404 and body["title"] and body["type"]


def test_wrong_method_is_405_with_allow(as_field_worker):
    response = as_field_worker.delete("/api/v1/households")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_malformed_json_is_400(as_field_worker, app):
    response = as_field_worker.post(
        "/api/v1/households", data='{"locality": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert "JSON" in response.get_json()["detail"]
    assert _household_count(app) == 0


def test_wrong_media_type_is_415(as_field_worker, app):
    response = as_field_worker.post(
        "/api/v1/households",
        data="locality=Riverside",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.mimetype == PROBLEM
    assert _household_count(app) == 0


def test_body_over_the_limit_is_413(as_field_worker, app):
    big = '{"locality": "' + "x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + '"}'
    response = as_field_worker.post(
        "/api/v1/households", data=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM


def test_unknown_and_read_only_fields_are_422_with_errors(as_field_worker, app):
    response = as_field_worker.post(
        "/api/v1/households", json={"locality": "Riverside", "colour": "red", "status": "ready"}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "validation_failed"
    assert set(body["errors"]) == {"colour", "status"}
    assert _household_count(app) == 0


def test_a_body_that_is_not_an_object_is_422(as_field_worker):
    response = as_field_worker.post("/api/v1/households", json=["Riverside"])
    assert response.status_code == 422
    assert response.mimetype == PROBLEM


def test_problems_never_show_internals(as_field_worker):
    response = as_field_worker.post("/api/v1/households", json={"locality": 5})
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text and "sqlalchemy" not in text


# --- ETag and If-Match -------------------------------------------------------------------


def test_patch_needs_a_current_if_match(as_field_worker, make_household, team):
    household = make_household(team=team)
    url = f"/api/v1/households/{household.id}"
    read = as_field_worker.get(url)
    assert read.headers["ETag"]
    assert read.get_json()["version"] == 1

    missing = as_field_worker.patch(url, json={"priority": "high"})
    assert missing.status_code == 428
    assert missing.get_json()["code"] == "if_match_required"

    changed = as_field_worker.patch(
        url, json={"priority": "high"}, headers={"If-Match": read.headers["ETag"]}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] not in ("", read.headers["ETag"])
    assert changed.headers["ETag"] == as_field_worker.get(url).headers["ETag"]
    assert changed.get_json()["version"] == 2

    stale = as_field_worker.patch(
        url, json={"priority": "low"}, headers={"If-Match": read.headers["ETag"]}
    )
    assert stale.status_code == 412
    assert stale.get_json()["code"] == "stale_version"
    assert stale.headers["ETag"] == changed.headers["ETag"]
    assert as_field_worker.get(url).get_json()["priority"] == "high"


# --- client-chosen ids -------------------------------------------------------------------


def test_client_chosen_id_is_kept_and_a_duplicate_is_409(as_field_worker, app):
    chosen = str(uuid.uuid4())
    first = as_field_worker.post("/api/v1/households", json={"id": chosen, "locality": "A"})
    assert first.status_code == 201
    assert first.get_json()["id"] == chosen
    again = as_field_worker.post("/api/v1/households", json={"id": chosen, "locality": "B"})
    assert again.status_code == 409
    assert again.get_json()["code"] == "duplicate_id"
    assert _household_count(app) == 1


# --- idempotency -------------------------------------------------------------------------


def test_a_retried_create_replays_the_first_answer(as_field_worker, app):
    headers = {"Idempotency-Key": "visit-7f3a"}
    first = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    retry = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _household_count(app) == 1


def test_the_same_key_with_another_body_is_422(as_field_worker, app):
    headers = {"Idempotency-Key": "k-1"}
    as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    other = as_field_worker.post("/api/v1/households", json={"locality": "B"}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_reused"
    assert _household_count(app) == 1


def test_keys_belong_to_their_user(as_field_worker, login, make_user, team, app):
    colleague = login(make_user("field_worker", team))
    headers = {"Idempotency-Key": "same-key"}
    assert as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    second = colleague.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert _household_count(app) == 2


def test_a_failed_request_does_not_use_up_its_key(as_field_worker, app):
    headers = {"Idempotency-Key": "k-2"}
    bad = as_field_worker.post("/api/v1/households", json={"locality": ""}, headers=headers)
    assert bad.status_code == 422
    good = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert good.status_code == 201
    assert _household_count(app) == 1


def _plant_key(app, user, key: str, body: bytes, *, locked_ago: dt.timedelta, expires_in=None):
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        db.session.add(
            IdempotencyKey(
                user_id=user.id,
                key=key,
                method="POST",
                path="/api/v1/households",
                fingerprint=fingerprint(
                    "POST", "/api/v1/households", body, f"{user.role}:{user.team_id}"
                ),
                state="in_flight",
                locked_at=now - locked_ago,
                expires_at=now + (expires_in or dt.timedelta(hours=24)),
            )
        )
        db.session.commit()


def test_a_key_still_in_flight_is_409(as_field_worker, field_worker, app):
    body = b'{"locality": "A"}'
    _plant_key(app, field_worker, "k-3", body, locked_ago=dt.timedelta(seconds=1))
    response = as_field_worker.post(
        "/api/v1/households",
        data=body,
        headers={"Idempotency-Key": "k-3", "Content-Type": "application/json"},
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "request_in_flight"
    assert response.headers["Retry-After"]
    assert _household_count(app) == 0


def test_a_key_whose_request_died_is_taken_over(as_field_worker, field_worker, app):
    body = b'{"locality": "A"}'
    _plant_key(app, field_worker, "k-4", body, locked_ago=dt.timedelta(minutes=10))
    response = as_field_worker.post(
        "/api/v1/households",
        data=body,
        headers={"Idempotency-Key": "k-4", "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert _household_count(app) == 1


def test_an_expired_key_is_forgotten(as_field_worker, field_worker, app):
    _plant_key(
        app,
        field_worker,
        "k-5",
        b"something else",
        locked_ago=dt.timedelta(days=2),
        expires_in=-dt.timedelta(hours=1),
    )
    response = as_field_worker.post(
        "/api/v1/households", json={"locality": "A"}, headers={"Idempotency-Key": "k-5"}
    )
    assert response.status_code == 201


def test_a_retry_after_moving_team_is_not_replayed(as_field_worker, field_worker, other_team, app):
    """The first answer may show what the caller may no longer see."""
    headers = {"Idempotency-Key": "k-6"}
    first = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert first.status_code == 201
    with app.app_context():
        user = db.session.get(type(field_worker), field_worker.id)
        user.team_id = other_team.id
        db.session.commit()
    retry = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert retry.status_code == 422
    assert retry.get_json()["code"] == "idempotency_key_reused"
    assert "locality" not in retry.get_data(as_text=True)


@pytest.mark.slow
@pytest.mark.commits
def test_concurrent_retries_create_once(app, field_worker):
    """Four copies of one request at once, each on its own connection: one household."""
    token = None
    with app.test_client() as client:
        token = client.post(
            "/api/v1/auth/tokens",
            json={"username": field_worker.username, "password": "correct-horse-battery"},
        ).get_json()["token"]
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def send():
        with app.test_client() as client:
            barrier.wait()
            response = client.post(
                "/api/v1/households",
                json={"locality": "Riverside"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert _household_count(app) == 1


# --- pagination --------------------------------------------------------------------------


def test_limit_is_bounded(as_field_worker):
    assert as_field_worker.get("/api/v1/households?limit=200").status_code == 200
    assert as_field_worker.get("/api/v1/households?limit=201").status_code == 422
    assert as_field_worker.get("/api/v1/households?limit=0").status_code == 422


def test_a_forged_cursor_is_422(as_field_worker):
    response = as_field_worker.get("/api/v1/households?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]


# --- probes and docs ---------------------------------------------------------------------


def test_health_and_readiness(anonymous):
    assert anonymous.get("/healthz").get_json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["database"] == "ok"


def test_openapi_document_and_docs_page(anonymous):
    document = anonymous.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/households" in document["paths"]
    problem = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert PROBLEM in problem
    assert anonymous.get("/api/docs").status_code == 200
