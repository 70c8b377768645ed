"""Running it safely: request ids, structured logs without personal data, security
headers, no CORS unless configured, a password policy, and no internals in a 500."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest
from flask import Flask, g

from app.logs import JsonFormatter, RequestIdFilter, configure_logging, register_request_id
from app.web.headers import register_response_headers

PROBLEM = "application/problem+json"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


# --- request ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offered", ["tablet7-req-0042", "a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d", "x" * 64, "job:42.7_b"]
)
def test_a_sane_request_id_is_echoed(as_field_worker, anonymous, offered):
    for api, url in ((as_field_worker, "/api/v1/me"), (anonymous, "/healthz")):
        response = api.get(url, headers={"X-Request-ID": offered})
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == offered


@pytest.mark.parametrize(
    "offered",
    ["x" * 65, "y" * 200, "has spaces in it", "semi;colon", "<script>", "a/b", ""],
)
def test_a_malformed_request_id_is_replaced(as_field_worker, offered):
    first = as_field_worker.get("/api/v1/me", headers={"X-Request-ID": offered})
    second = as_field_worker.get("/api/v1/me", headers={"X-Request-ID": offered})
    for response in (first, second):
        assert response.status_code == 200
        assert GENERATED_ID.match(response.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_request_id_ending_in_a_newline_is_replaced(client):
    """``$`` would let "abc\\n" through, into the logs and into a response header."""
    response = client.get("/healthz", environ_base={"HTTP_X_REQUEST_ID": "abc\n"})
    assert response.status_code == 200
    assert GENERATED_ID.match(response.headers["X-Request-ID"])


def test_every_response_carries_a_request_id(as_field_worker, anonymous):
    answers = [
        anonymous.get("/healthz"),
        anonymous.get("/readyz"),
        anonymous.get("/api/v1/openapi.json"),
        anonymous.get("/api/v1/no-such-thing"),
        anonymous.get("/api/v1/me"),
        anonymous.post("/api/v1/auth/tokens", json={"username": "nobody", "password": "x" * 12}),
        as_field_worker.get("/api/v1/users"),
        as_field_worker.delete("/api/v1/me"),
        as_field_worker.post("/api/v1/households", json={"nonsense": 1}),
        as_field_worker.get("/api/v1/me"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 401, 401, 403, 405, 422, 200]
    ids = [a.headers.get("X-Request-ID") for a in answers]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


# --- security headers and CORS -----------------------------------------------------------


def _assert_security_headers(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_api_responses_are_never_cached_and_never_framed(as_field_worker, anonymous):
    for response in (
        as_field_worker.get("/api/v1/me"),
        as_field_worker.get("/api/v1/users"),  # 403
        anonymous.get("/api/v1/me"),  # 401
        anonymous.get("/api/v1/no-such-thing"),  # 404
    ):
        _assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_health_and_docs_carry_the_security_headers(anonymous):
    for url in ("/healthz", "/readyz", "/api/docs"):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        _assert_security_headers(response)


def test_no_cors_headers_by_default(app, as_field_worker, client):
    assert app.config["CORS_ORIGINS"] == ""
    origin = {"Origin": "https://evil.example"}
    answers = [
        as_field_worker.get("/api/v1/me", headers=origin),
        client.options(
            "/api/v1/households",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        ),
    ]
    for response in answers:
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


def _bare_app(**config) -> Flask:
    """Only the response-header hooks, on an app of its own: CORS_ORIGINS is read when the
    hooks are registered, and the real app (with its one database) exists once per run."""
    bare = Flask(__name__)
    bare.config.update(config)
    register_response_headers(bare)

    @bare.route("/api/v1/ping", methods=["GET", "POST", "OPTIONS"])
    def ping():
        return {"pong": True}

    return bare


def test_cors_answers_only_configured_origins():
    client = _bare_app(CORS_ORIGINS="https://app.example, https://ops.example").test_client()

    allowed = client.get("/api/v1/ping", headers={"Origin": "https://ops.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ops.example"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    assert "Origin" in allowed.headers.get_all("Vary")
    _assert_security_headers(allowed)

    preflight = client.options(
        "/api/v1/ping",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]

    for other in ("https://evil.example", "https://app.example.evil.example", "null"):
        refused = client.get("/api/v1/ping", headers={"Origin": other})
        assert "Access-Control-Allow-Origin" not in refused.headers, other


# --- structured logs ---------------------------------------------------------------------


def _record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(
        "safepassage.test", logging.WARNING, __file__, 1, message, args, exc_info
    )


def test_a_json_log_line_is_one_object_with_the_request_id(app):
    record = _record("visit %s logged", "v-1")
    with app.test_request_context("/api/v1/me"):
        g.request_id = "tablet7-req-0042"
        assert RequestIdFilter().filter(record) is True
    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "tablet7-req-0042"
    assert entry["message"] == "visit v-1 logged"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "safepassage.test"
    assert entry["time"]


def test_a_json_log_line_stays_one_line_with_a_traceback(app):
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    with app.app_context():
        RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "-"  # outside a request
    assert "ValueError" in entry["exception"]


def test_the_access_log_names_the_path_without_its_query(as_field_worker, field_worker, caplog):
    caplog.set_level(logging.INFO, logger="safepassage.access")

    response = as_field_worker.get("/api/v1/households?q=Olena")

    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == "safepassage.access"]
    assert record.getMessage() == "GET /api/v1/households 200"
    assert record.path == "/api/v1/households"
    assert record.status == 200
    assert record.actor_id == str(field_worker.id)
    assert "Olena" not in caplog.text
    assert "Olena" not in repr(vars(record))


def test_production_log_lines_are_json_with_the_request_id(capsys):
    """LOG_FORMAT=json: every line one object carrying the id the client sees."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    bare = _bare_app(CORS_ORIGINS="", LOG_FORMAT="json", LOG_LEVEL="INFO")
    try:
        configure_logging(bare)
        register_request_id(bare)
        response = bare.test_client().get("/api/v1/ping?q=Olena")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    [access] = [e for e in entries if e["logger"] == "safepassage.access"]
    assert access["request_id"] == response.headers["X-Request-ID"]
    assert access["path"] == "/api/v1/ping"
    assert access["status"] == 200
    assert "Olena" not in "".join(lines)


# --- passwords ---------------------------------------------------------------------------


def _new_user(**fields) -> dict:
    return {
        "username": "marta",
        "full_name": "Marta Shevchenko",
        "role": "coordinator",
        "password": "lantern-quiet-harbour",
        **fields,
    }


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "elevenchars",  # one below the minimum of 12
        "MARTA-loves-rivers",  # the username, in any case
        "rivers-of-shevchenko",  # part of the full name
    ],
)
def test_weak_passwords_are_refused(as_admin, password):
    response = as_admin.post("/api/v1/users", json=_new_user(password=password))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert "password" in response.get_json()["errors"]
    assert password not in response.get_data(as_text=True)
    users = as_admin.get("/api/v1/users").get_json()["items"]
    assert "marta" not in {u["username"] for u in users}


def test_a_long_password_without_the_name_is_accepted(as_admin):
    response = as_admin.post("/api/v1/users", json=_new_user(password="twelve-chars"))
    assert response.status_code == 201, response.get_json()
    assert "password" not in response.get_json()


def test_a_changed_password_follows_the_policy_too(as_admin, make_user):
    user = make_user("coordinator", username="bohdan", full_name="Bohdan Kravets")
    url = f"/api/v1/users/{user.id}"
    etag = as_admin.get(url).headers["ETag"]
    for weak in ("tiny", "kravets-forever-and-ever"):
        response = as_admin.patch(url, json={"password": weak}, headers={"If-Match": etag})
        assert response.status_code == 422, weak
        assert "password" in response.get_json()["errors"]
    ok = as_admin.patch(url, json={"password": "quiet-lantern-bay"}, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.get_json()


# --- a 500 in production -----------------------------------------------------------------


def test_an_unexpected_error_in_production_shows_no_internals(
    app, as_field_worker, make_household, team, monkeypatch
):
    household = make_household(team=team)

    def boom(*_args, **_kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr("app.households.service.load_counts", boom)
    app.testing = False
    try:
        response = as_field_worker.get(
            f"/api/v1/households/{household.id}", headers={"X-Request-ID": "crash-1"}
        )
    finally:
        app.testing = True

    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    body = response.get_data(as_text=True)
    assert "secret detail" not in body
    assert "Traceback" not in body
    assert "RuntimeError" not in body
    problem = response.get_json()
    assert problem["status"] == 500
    assert problem["code"] == "internal_error"
    assert response.headers["X-Request-ID"] == "crash-1"
    _assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    # the app keeps working afterwards
    monkeypatch.undo()
    assert as_field_worker.get(f"/api/v1/households/{household.id}").status_code == 200
