"""Passwords per NIST SP 800-63B: long enough, not the user's name, not guessable.

Guessable means what attackers try first: passwords from breach corpora and their
variants, keyboard walks, repeats and sequences. The same rule holds through the service,
the command line and the API.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth import passwords
from app.auth import service as auth_service
from app.auth.models import COORDINATOR, User
from app.auth.permissions import OPERATOR
from app.demo import DEMO_PASSWORDS
from app.errors import Invalid
from app.extensions import db
from tests.conftest import PASSWORD

PROBLEM = "application/problem+json"

#: Long enough, not the name, and still among the first guesses of any attacker.
GUESSABLE = [
    "aaaaaaaaaaaa",  # one character repeated
    "password1234",  # a breached classic with digits
    "qwertyuiop12",  # a keyboard walk
    "abcdefghijklmn",  # a sequence
    "123456789012",  # digits in order
    "abcabcabcabcabc",  # a short pattern repeated
    "P@ssw0rd2024!",  # a breached password with predictable substitutions
    "iloveyou2024!",  # a breached phrase and a year
    "SafePassage2024!",  # the service's own name
]
#: Random passphrases: accepted.
STRONG = [
    "zebra-violin-seventeen-copper",
    "granite puffin elevator marsh",
    "Tavolo-Rinvio-9-Quercia",
    "k7#Rw!2pQz@9xLm",
    # longer than the 72 characters zxcvbn judges: judged on its start, and accepted
    "saffron-lagoon-tundra-ribbon-" * 4,
]


def _create(password: str, username: str = "marta", full_name: str = "Marta Example"):
    return auth_service.create_user(
        OPERATOR, username=username, role=COORDINATOR, password=password, full_name=full_name
    )


# --- the service ------------------------------------------------------------------------


@pytest.mark.parametrize("password", GUESSABLE)
def test_the_service_refuses_guessable_passwords(app, password):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            _create(password)
        [message] = refused.value.errors["password"]
        assert message.startswith("This password is too easy to guess.")
        assert password not in message
        db.session.rollback()
        assert db.session.scalar(sa.select(User).where(User.username == "marta")) is None


@pytest.mark.parametrize("password", STRONG)
def test_the_service_accepts_random_passphrases(app, password):
    with app.app_context():
        user = _create(password)
        db.session.commit()
        assert user.username == "marta"


def test_the_message_says_what_is_wrong(app):
    with app.app_context():
        with pytest.raises(Invalid) as repeated:
            _create("aaaaaaaaaaaa")
        with pytest.raises(Invalid) as common:
            _create("password1234")
    assert "Repeats" in repeated.value.errors["password"][0]
    assert "common" in common.value.errors["password"][0]


def test_the_minimum_length_still_holds(app):
    with app.app_context(), pytest.raises(Invalid) as short:
        _create("k7#Rw!2pQz")  # random, but 10 characters
    assert short.value.errors["password"] == ["Use at least 12 characters."]


def test_the_users_own_name_is_refused_in_any_case(app):
    with app.app_context(), pytest.raises(Invalid) as refused:
        _create("zebra-EXAMPLE-violin", username="marta", full_name="Marta Example")
    assert refused.value.errors["password"] == [
        "Do not use your own name or username in the password."
    ]


def test_the_minimum_strength_is_a_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_MIN_STRENGTH", 4)
    with app.app_context():
        with pytest.raises(Invalid):
            _create("twelve-chars")  # zxcvbn score 3
        assert _create("zebra-violin-seventeen-copper").username == "marta"
        db.session.rollback()


@pytest.mark.parametrize("username", sorted(DEMO_PASSWORDS))
def test_the_demo_and_test_passwords_pass_the_policy(app, username):
    _role, password = DEMO_PASSWORDS[username]
    with app.app_context():
        passwords.check_password_policy(password, username, None)
        passwords.check_password_policy(PASSWORD, "corin", "Corin Example")


def test_a_new_password_through_the_service_follows_the_policy(app, make_user):
    admin = make_user("admin", username="ada")
    target = make_user(COORDINATOR, username="corin")
    with app.app_context():
        actor = db.session.get(User, admin.id)
        with pytest.raises(Invalid):
            auth_service.update_user(actor, target.id, {"password": "password1234"})
        db.session.rollback()


# --- the command line -------------------------------------------------------------------


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", "qwertyuiop12"])
def test_users_create_refuses_a_guessable_password(app, password):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "marta", "--role", "coordinator", "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code != 0
    assert "too easy to guess" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.username == "marta")) is None


def test_users_create_accepts_a_passphrase(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "marta", "--role", "coordinator", "--password-stdin"],
        input="granite puffin elevator marsh\n",
    )
    assert result.exit_code == 0, result.output
    login = client.post(
        "/api/v1/auth/tokens",
        json={"username": "marta", "password": "granite puffin elevator marsh"},
    )
    assert login.status_code == 201


# --- the API ----------------------------------------------------------------------------


def _new_user(password: str) -> dict:
    return {
        "username": "marta",
        "full_name": "Marta Example",
        "role": "coordinator",
        "password": password,
    }


@pytest.mark.parametrize("password", GUESSABLE)
def test_creating_a_user_with_a_guessable_password_is_422(as_admin, password):
    response = as_admin.post("/api/v1/users", json=_new_user(password))

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    [message] = response.get_json()["errors"]["password"]
    assert "too easy to guess" in message
    assert password not in response.get_data(as_text=True)
    users = as_admin.get("/api/v1/users").get_json()["items"]
    assert "marta" not in {u["username"] for u in users}


def test_creating_a_user_with_a_passphrase_is_201(as_admin):
    response = as_admin.post("/api/v1/users", json=_new_user("zebra-violin-seventeen-copper"))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", "qwertyuiop12"])
def test_changing_to_a_guessable_password_is_422(as_admin, make_user, client, password):
    user = make_user(COORDINATOR, username="corin")
    url = f"/api/v1/users/{user.id}"
    etag = as_admin.get(url).headers["ETag"]

    response = as_admin.patch(url, json={"password": password}, headers={"If-Match": etag})

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert "too easy to guess" in response.get_json()["errors"]["password"][0]
    # the old password still works, the refused one does not
    old = client.post("/api/v1/auth/tokens", json={"username": "corin", "password": PASSWORD})
    assert old.status_code == 201
    new = client.post("/api/v1/auth/tokens", json={"username": "corin", "password": password})
    assert new.status_code == 401


def test_changing_to_a_passphrase_is_200(as_admin, make_user, client):
    user = make_user(COORDINATOR, username="corin")
    url = f"/api/v1/users/{user.id}"
    etag = as_admin.get(url).headers["ETag"]
    response = as_admin.patch(
        url, json={"password": "granite puffin elevator marsh"}, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.get_json()
    login = client.post(
        "/api/v1/auth/tokens",
        json={"username": "corin", "password": "granite puffin elevator marsh"},
    )
    assert login.status_code == 201
