"""Device cookies: a device that signed in before keeps signing in while strangers are
throttled (OWASP "Slow Down Online Guessing Attacks with Device Cookies")."""

from __future__ import annotations

import time

import pytest

from app.auth import tokens
from app.auth.models import ADMIN, COORDINATOR, User
from app.extensions import db
from tests.conftest import PASSWORD

TOKENS = "/api/v1/auth/tokens"
PROBLEM = "application/problem+json"
WRONG = "wrong-password-here"
HOME = "203.0.113.20"


def _login(client, username, password=PASSWORD, *, address=HOME, **extra):
    return client.post(
        TOKENS,
        json={"username": username, "password": password, **extra},
        environ_base={"REMOTE_ADDR": address},
    )


def _attack(client, username: str, *, guesses: int = 30, addresses: int = 10) -> None:
    """Wrong passwords from many addresses until the username is locked everywhere."""
    for i in range(guesses):
        response = _login(client, username, WRONG, address=f"198.51.100.{i % addresses + 1}")
        assert response.status_code == 401, (i, response.get_json())
    # now even the right password from a new address is refused: the username is locked
    locked = _login(client, username, address="192.0.2.99")
    assert locked.status_code == 429
    assert locked.mimetype == PROBLEM
    assert int(locked.headers["Retry-After"]) > 0


def _device_cookie(client, username: str) -> str:
    response = _login(client, username)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["device_cookie"]


def test_a_known_device_signs_in_while_strangers_lock_the_username(client, make_user):
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")

    _attack(client, "corin")

    response = _login(client, "corin", device_cookie=cookie)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["user"]["username"] == "corin"
    assert body["token"]
    # a renewed cookie comes back, and it works as well
    renewed = body["device_cookie"]
    assert renewed
    assert _login(client, "corin", device_cookie=renewed).status_code == 201
    # the same client without its cookie is a stranger like any other
    assert _login(client, "corin").status_code == 429


def test_a_known_device_signs_in_from_a_new_address_too(client, make_user):
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")
    _attack(client, "corin")

    response = _login(client, "corin", address="192.0.2.200", device_cookie=cookie)
    assert response.status_code == 201


def test_a_device_cookie_is_bound_to_its_user(client, make_user):
    make_user(COORDINATOR, username="corin")
    make_user(COORDINATOR, username="dana")
    corins_cookie = _device_cookie(client, "corin")
    _attack(client, "dana")

    assert _login(client, "dana", device_cookie=corins_cookie).status_code == 429


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature
        lambda c: "x" + c,  # payload
        lambda c: "garbage",
        lambda c: "",
    ],
)
def test_a_forged_or_broken_device_cookie_is_ignored(client, make_user, tamper):
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")
    _attack(client, "corin")

    response = _login(client, "corin", device_cookie=tamper(cookie))
    assert response.status_code == 429
    assert "token" not in response.get_json()


def test_a_device_cookie_signed_with_another_secret_is_ignored(app, client, make_user, monkeypatch):
    corin = make_user(COORDINATOR, username="corin")
    _attack(client, "corin")
    with app.app_context():
        user = db.session.get(User, corin.id)
        with monkeypatch.context() as guessing:
            guessing.setitem(app.config, "SECRET_KEY", "an-attackers-guess-at-the-secret-key")
            forged = tokens.device_cookie_for(user)

    assert _login(client, "corin", device_cookie=forged).status_code == 429


def test_a_device_that_fails_too_often_is_locked(client, make_user):
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")
    _attack(client, "corin")

    for _ in range(5):  # LOGIN_LIMIT_PER_DEVICE: 5 per minute
        assert _login(client, "corin", WRONG, device_cookie=cookie).status_code == 401
    # locked: the device counts as a stranger again, and strangers are locked out
    locked = _login(client, "corin", device_cookie=cookie)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "token" not in locked.get_json()


def test_a_devices_failures_do_not_fill_the_strangers_buckets(client, make_user):
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")
    for _ in range(5):
        assert _login(client, "corin", WRONG, device_cookie=cookie).status_code == 401

    # the per-username-and-address bucket (5 per minute) is untouched: 5 more guesses
    for _ in range(5):
        assert _login(client, "corin", WRONG).status_code == 401
    assert _login(client, "corin", WRONG).status_code == 429


def test_a_locked_device_falls_back_to_the_ordinary_throttle(client, make_user):
    """OWASP: a device cookie on the lockout list makes its client untrusted, no worse."""
    make_user(COORDINATOR, username="corin")
    cookie = _device_cookie(client, "corin")
    for _ in range(5):
        assert _login(client, "corin", WRONG, device_cookie=cookie).status_code == 401

    response = _login(client, "corin", device_cookie=cookie)
    assert response.status_code == 201


def test_a_new_password_voids_the_device_cookies(client, make_user, login):
    """What an administrator does for a lost tablet: a new password, so its cookie dies."""
    corin = make_user(COORDINATOR, username="corin")
    admin = login(make_user(ADMIN, username="ada"))
    cookie = _device_cookie(client, "corin")

    url = f"/api/v1/users/{corin.id}"
    etag = admin.get(url).headers["ETag"]
    new_password = "granite-puffin-elevator-77"
    changed = admin.patch(url, json={"password": new_password}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.get_json()
    _attack(client, "corin")

    assert _login(client, "corin", new_password, device_cookie=cookie).status_code == 429


def test_an_expired_device_cookie_is_not_trusted(app, make_user, monkeypatch):
    corin = make_user(COORDINATOR, username="corin")
    with app.app_context():
        user = db.session.get(User, corin.id)
        fresh = tokens.device_cookie_for(user)
        now = time.time()
        age = (app.config["DEVICE_COOKIE_MAX_AGE_DAYS"] + 1) * 86400
        monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now - age)
        old = tokens.device_cookie_for(user)
        monkeypatch.undo()

        assert tokens.trusted_device(user, fresh) is not None
        assert tokens.trusted_device(user, old) is None


def test_a_renewed_cookie_keeps_the_device(app, client, make_user):
    corin = make_user(COORDINATOR, username="corin")
    first = _device_cookie(client, "corin")
    renewed = _login(client, "corin", device_cookie=first).get_json()["device_cookie"]
    stranger = _device_cookie(client, "corin")

    with app.app_context():
        user = db.session.get(User, corin.id)
        device = tokens.trusted_device(user, first)
        assert device is not None
        assert tokens.trusted_device(user, renewed) == device
        # a login without a cookie is a new device
        assert tokens.trusted_device(user, stranger) not in (None, device)


def test_answers_stay_identical_with_a_device_cookie(client, make_user):
    make_user(COORDINATOR, username="corin")
    make_user(COORDINATOR, username="dana", is_active=False)
    cookie = _device_cookie(client, "corin")

    wrong = _login(client, "corin", WRONG, device_cookie=cookie)
    unknown = _login(client, "nobody-here", WRONG, device_cookie=cookie)
    disabled = _login(client, "dana", device_cookie=cookie)
    broken = _login(client, "corin", WRONG, device_cookie="not-a-cookie")

    for response in (wrong, unknown, disabled, broken):
        assert response.status_code == 401
        assert response.mimetype == PROBLEM
    assert wrong.get_data() == unknown.get_data() == disabled.get_data() == broken.get_data()


def test_an_oversized_device_cookie_is_422(client, make_user):
    make_user(COORDINATOR, username="corin")
    response = _login(client, "corin", device_cookie="x" * 1001)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert "device_cookie" in response.get_json()["errors"]


def test_the_openapi_document_describes_the_device_cookie(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    request_field = schemas["TokenRequest"]["properties"]["device_cookie"]
    answer_field = schemas["Token"]["properties"]["device_cookie"]
    assert "throttle" in request_field["description"]
    assert "device_cookie" in schemas["Token"]["required"]
    assert answer_field["type"] == "string"
