"""Logging in and out: tokens, their expiry and revocation, throttling, stored secrets."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import ADMIN, COORDINATOR, ApiToken, User
from app.extensions import db
from tests.conftest import PASSWORD, ApiClient

TOKENS = "/api/v1/auth/tokens"
PROBLEM = "application/problem+json"


def _login(client, username: str, password: str = PASSWORD, **extra):
    return client.post(TOKENS, json={"username": username, "password": password, **extra})


def _tokens_of(app, user) -> list[ApiToken]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)))


# --- logging in --------------------------------------------------------------------------


def test_login_returns_token_expiry_and_user(client, make_user):
    user = make_user(COORDINATOR, username="corin", full_name="Corin Example")
    before = dt.datetime.now(dt.UTC)

    response = _login(client, "corin")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at", "user", "device_cookie"}
    assert body["token"]
    assert body["device_cookie"]
    assert body["device_cookie"] != body["token"]
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert expires_at.utcoffset() == dt.timedelta(0)
    ttl = dt.timedelta(hours=12)
    assert (
        before + ttl - dt.timedelta(minutes=1)
        <= expires_at
        <= before + ttl + dt.timedelta(minutes=1)
    )
    assert body["user"]["id"] == str(user.id)
    assert body["user"]["username"] == "corin"
    assert body["user"]["full_name"] == "Corin Example"
    assert body["user"]["role"] == COORDINATOR
    assert body["user"]["is_active"] is True
    assert "password" not in body["user"]
    assert "password_hash" not in body["user"]


def test_login_username_is_case_insensitive(client, make_user):
    make_user(COORDINATOR, username="corin")
    response = _login(client, "  Corin ")
    assert response.status_code == 201
    assert response.get_json()["user"]["username"] == "corin"


def test_device_label_is_stored_with_the_token(app, client, make_user):
    user = make_user(COORDINATOR)
    response = _login(client, user.username, device_label="tablet 7")
    assert response.status_code == 201

    [record] = _tokens_of(app, user)
    assert record.device_label == "tablet 7"
    assert record.revoked_at is None
    assert record.expires_at == dt.datetime.fromisoformat(response.get_json()["expires_at"])


def test_token_lifetime_follows_the_setting(app, client, make_user, monkeypatch):
    user = make_user(COORDINATOR)
    monkeypatch.setitem(app.config, "TOKEN_TTL_HOURS", 2)
    before = dt.datetime.now(dt.UTC)
    expires_at = dt.datetime.fromisoformat(_login(client, user.username).get_json()["expires_at"])
    assert abs(expires_at - (before + dt.timedelta(hours=2))) < dt.timedelta(minutes=1)


def test_each_login_issues_a_distinct_token(client, make_user):
    user = make_user(COORDINATOR)
    first = _login(client, user.username).get_json()["token"]
    second = _login(client, user.username).get_json()["token"]
    assert first != second
    for token in (first, second):
        assert ApiClient(client, token).get("/api/v1/me").status_code == 200


def test_unknown_user_and_wrong_password_get_identical_answers(client, make_user):
    make_user(COORDINATOR, username="corin")

    wrong_password = _login(client, "corin", "not-the-password-at-all")
    unknown_user = _login(client, "nobody-here", "not-the-password-at-all")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.mimetype == unknown_user.mimetype == PROBLEM
    assert wrong_password.get_data() == unknown_user.get_data()
    body = wrong_password.get_json()
    assert body["status"] == 401
    assert "token" not in body


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": "corin"}, {"password": PASSWORD}, {"username": "corin", "pw": "x"}],
)
def test_login_with_missing_or_unknown_fields_is_422(client, make_user, payload):
    make_user(COORDINATOR, username="corin")
    response = client.post(TOKENS, json=payload)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"]


# --- what is stored ----------------------------------------------------------------------


def test_password_is_stored_as_an_argon2id_hash(app, make_user):
    user = make_user(COORDINATOR)
    with app.app_context():
        stored = db.session.execute(
            sa.text("SELECT password_hash FROM users WHERE username = :u"),
            {"u": user.username},
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_raw_token_is_never_stored(app, client, make_user):
    user = make_user(COORDINATOR)
    token = _login(client, user.username).get_json()["token"]

    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM api_tokens")).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["token_hash"] != token
    assert all(token not in str(value) for value in row.values())


# --- the token at work -------------------------------------------------------------------


def test_me_returns_the_user_with_an_etag(login, make_user):
    user = make_user(ADMIN, username="ada", full_name="Ada Example")
    session = login(user)
    response = session.get("/api/v1/me")

    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(user.id)
    assert body["username"] == "ada"
    assert body["role"] == ADMIN
    assert body["team_id"] is None
    assert "password" not in body
    assert response.headers["ETag"]
    assert session.get("/api/v1/me").headers["ETag"] == response.headers["ETag"]


def test_field_worker_me_shows_their_team(as_field_worker, team):
    body = as_field_worker.get("/api/v1/me").get_json()
    assert body["team_id"] == str(team.id)
    assert body["role"] == "field_worker"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "garbage",
        "Bearer garbage",
        "Bearer sp_not-a-real-token",
        "Token sp_not-a-real-token",
    ],
)
def test_missing_or_bad_token_is_401_with_www_authenticate(client, make_user, header):
    make_user(COORDINATOR)
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/me", headers=headers)

    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["status"] == 401


def test_token_without_bearer_scheme_is_refused(client, make_user):
    user = make_user(COORDINATOR)
    token = _login(client, user.username).get_json()["token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    response = client.get("/api/v1/me", headers={"Authorization": token})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_logout_revokes_the_current_token_only(app, client, make_user):
    user = make_user(COORDINATOR)
    phone = ApiClient(client, _login(client, user.username).get_json()["token"])
    tablet = ApiClient(client, _login(client, user.username).get_json()["token"])

    response = phone.delete("/api/v1/auth/tokens/current")
    assert response.status_code == 204
    assert response.get_data() == b""

    assert phone.get("/api/v1/me").status_code == 401
    assert phone.delete("/api/v1/auth/tokens/current").status_code == 401
    assert tablet.get("/api/v1/me").status_code == 200
    revoked = [t for t in _tokens_of(app, user) if t.revoked_at is not None]
    assert len(revoked) == 1


def test_logout_without_token_is_401(anonymous):
    response = anonymous.delete("/api/v1/auth/tokens/current")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


def test_expired_token_is_401(app, client, make_user):
    user = make_user(COORDINATOR)
    session = ApiClient(client, _login(client, user.username).get_json()["token"])
    assert session.get("/api/v1/me").status_code == 200

    with app.app_context():
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.session.commit()

    response = session.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert "WWW-Authenticate" in response.headers


def test_token_use_is_recorded(app, client, make_user):
    user = make_user(COORDINATOR)
    session = ApiClient(client, _login(client, user.username).get_json()["token"])
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(last_used_at=long_ago))
        db.session.commit()

    assert session.get("/api/v1/me").status_code == 200

    [record] = _tokens_of(app, user)
    assert record.last_used_at > long_ago + dt.timedelta(minutes=30)


# --- disabled accounts -------------------------------------------------------------------


def test_user_disabled_by_admin_cannot_log_in_and_their_token_dies(client, as_admin, make_user):
    user = make_user(COORDINATOR, username="corin")
    session = ApiClient(client, _login(client, "corin").get_json()["token"])
    assert session.get("/api/v1/me").status_code == 200

    etag = as_admin.get(f"/api/v1/users/{user.id}").headers["ETag"]
    response = as_admin.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers={"If-Match": etag}
    )
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False

    assert session.get("/api/v1/me").status_code == 401
    refused = _login(client, "corin")
    unknown = _login(client, "nobody-here")
    assert refused.status_code == 401
    assert refused.get_data() == unknown.get_data()


def test_user_disabled_through_the_service_is_locked_out(app, client, make_user):
    admin = make_user(ADMIN)
    user = make_user(COORDINATOR, username="corin")
    session = ApiClient(client, _login(client, "corin").get_json()["token"])

    with app.app_context():
        actor = db.session.get(User, admin.id)
        auth_service.update_user(actor, user.id, {"is_active": False})
        db.session.commit()

    assert session.get("/api/v1/me").status_code == 401
    assert _login(client, "corin").status_code == 401
    assert all(t.revoked_at is not None for t in _tokens_of(app, user))


def test_inactive_flag_alone_stops_a_live_token(app, client, make_user):
    """Even a token that was never revoked stops working once the account is inactive."""
    user = make_user(COORDINATOR, username="corin")
    session = ApiClient(client, _login(client, "corin").get_json()["token"])

    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user.id).values(is_active=False))
        db.session.commit()

    assert session.get("/api/v1/me").status_code == 401
    assert all(t.revoked_at is None for t in _tokens_of(app, user))


def test_reenabled_user_can_log_in_again(client, as_admin, make_user):
    user = make_user(COORDINATOR, username="corin", is_active=False)
    assert _login(client, "corin").status_code == 401

    etag = as_admin.get(f"/api/v1/users/{user.id}").headers["ETag"]
    response = as_admin.patch(
        f"/api/v1/users/{user.id}", json={"is_active": True}, headers={"If-Match": etag}
    )
    assert response.status_code == 200
    assert _login(client, "corin").status_code == 201


# --- throttling --------------------------------------------------------------------------


def _assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == 429
    assert "token" not in body


def test_failed_logins_for_one_username_are_throttled(client, make_user):
    make_user(COORDINATOR, username="corin")
    for _ in range(5):
        assert _login(client, "corin", "wrong-password-here").status_code == 401

    _assert_throttled(_login(client, "corin", "wrong-password-here"))
    # once throttled, even the right password is refused
    _assert_throttled(_login(client, "corin"))
    # the same name in other letter case is the same account
    _assert_throttled(_login(client, "CORIN"))


def test_throttling_one_username_does_not_lock_out_another(client, make_user):
    make_user(COORDINATOR, username="corin")
    other = make_user(COORDINATOR, username="dana")
    for _ in range(5):
        _login(client, "corin", "wrong-password-here")
    assert _login(client, "corin").status_code == 429

    assert _login(client, other.username).status_code == 201


def test_unknown_usernames_are_throttled_like_real_ones(client):
    for _ in range(5):
        assert _login(client, "nobody-here", "wrong-password-here").status_code == 401
    _assert_throttled(_login(client, "nobody-here", "wrong-password-here"))


def test_failed_logins_from_one_address_are_throttled(client, make_user):
    make_user(COORDINATOR, username="corin")
    for i in range(20):
        assert _login(client, f"guess{i}", "wrong-password-here").status_code == 401

    _assert_throttled(_login(client, "guess-next", "wrong-password-here"))
    _assert_throttled(_login(client, "corin"))

    # another address is not affected
    response = client.post(
        TOKENS,
        json={"username": "corin", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert response.status_code == 201


def test_successful_logins_do_not_count_toward_the_limit(client, make_user):
    make_user(COORDINATOR, username="corin")
    for _ in range(4):
        assert _login(client, "corin", "wrong-password-here").status_code == 401
    for _ in range(6):
        assert _login(client, "corin").status_code == 201

    assert _login(client, "corin", "wrong-password-here").status_code == 401
    _assert_throttled(_login(client, "corin"))
