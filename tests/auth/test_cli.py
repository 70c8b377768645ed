"""Administrator commands: ``flask --app wsgi users|demo|db ...``."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from app.auth.models import COORDINATOR, FIELD_WORKER, Team, User
from app.demo import DEMO_PASSWORDS
from app.extensions import db
from app.households.models import Household
from tests.conftest import ApiClient

NEW_PASSWORD = "lantern-quiet-harbour"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def _login(client, username: str, password: str):
    return client.post("/api/v1/auth/tokens", json={"username": username, "password": password})


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Team, User, Household)
        }


def _user(app, username: str) -> User | None:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


# --- users create ------------------------------------------------------------------------


def test_users_create_makes_a_coordinator_who_can_log_in(app, cli, client):
    result = cli(
        "users",
        "create",
        "Corin",
        "--role",
        "coordinator",
        "--full-name",
        "Corin Example",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "corin" in result.output
    assert NEW_PASSWORD not in result.output

    user = _user(app, "corin")
    assert user is not None
    assert (user.role, user.full_name, user.team_id, user.is_active) == (
        COORDINATOR,
        "Corin Example",
        None,
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert str(user.id) in result.output

    response = _login(client, "corin", NEW_PASSWORD)
    assert response.status_code == 201
    assert response.get_json()["user"]["full_name"] == "Corin Example"


def test_users_create_field_worker_by_team_name(app, cli, client, team):
    result = cli(
        "users",
        "create",
        "fenna",
        "--role",
        "field_worker",
        "--team",
        "Team North",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    user = _user(app, "fenna")
    assert user.role == FIELD_WORKER
    assert user.team_id == team.id
    assert user.full_name == "fenna"

    response = _login(client, "fenna", NEW_PASSWORD)
    assert response.status_code == 201
    assert response.get_json()["user"]["team_id"] == str(team.id)


def test_users_create_field_worker_by_team_id(app, cli, team):
    result = cli(
        "users",
        "create",
        "fenna",
        "--role",
        "field_worker",
        "--team",
        str(team.id),
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert _user(app, "fenna").team_id == team.id


def test_users_create_field_worker_without_team_fails(app, cli):
    result = cli(
        "users",
        "create",
        "fenna",
        "--role",
        "field_worker",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    message = result.output.lower()
    assert "field worker" in message
    assert "team" in message
    assert "Traceback" not in result.output
    assert _user(app, "fenna") is None
    assert _counts(app)["users"] == 0


def test_users_create_with_unknown_team_fails(app, cli):
    result = cli(
        "users",
        "create",
        "fenna",
        "--role",
        "field_worker",
        "--team",
        "Team Nowhere",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert "Team Nowhere" in result.output
    assert _counts(app)["users"] == 0


@pytest.mark.parametrize("password", ["short", "", "my-name-is-corin-ok"])
def test_users_create_refuses_a_weak_password(app, cli, password):
    result = cli(
        "users",
        "create",
        "corin",
        "--role",
        "coordinator",
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code != 0
    assert "password" in result.output.lower()
    assert "Traceback" not in result.output
    assert _user(app, "corin") is None


def test_users_create_refuses_a_taken_username(app, cli, make_user):
    make_user(COORDINATOR, username="corin", full_name="First Corin")
    result = cli(
        "users",
        "create",
        "corin",
        "--role",
        "admin",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert "taken" in result.output
    user = _user(app, "corin")
    assert (user.role, user.full_name) == (COORDINATOR, "First Corin")


def test_users_create_refuses_an_unknown_role(app, cli):
    result = cli(
        "users",
        "create",
        "corin",
        "--role",
        "superuser",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert "role" in result.output.lower()
    assert _user(app, "corin") is None


# --- users revoke-tokens -----------------------------------------------------------------


def test_users_revoke_tokens_ends_every_session(cli, login, make_user):
    user = make_user(COORDINATOR, username="corin")
    other = make_user(COORDINATOR, username="dana")
    sessions = [login(user), login(user)]
    bystander = login(other)

    result = cli("users", "revoke-tokens", "corin")
    assert result.exit_code == 0, result.output
    assert "revoked 2 token(s)" in result.output

    for session in sessions:
        response = session.get("/api/v1/me")
        assert response.status_code == 401
    assert bystander.get("/api/v1/me").status_code == 200

    again = cli("users", "revoke-tokens", "CORIN")
    assert again.exit_code == 0, again.output
    assert "revoked 0 token(s)" in again.output


def test_users_revoke_tokens_of_unknown_user_fails(cli):
    result = cli("users", "revoke-tokens", "nobody-here")
    assert result.exit_code != 0
    assert "nobody-here" in result.output


# --- demo seed ---------------------------------------------------------------------------

LOGIN_LINE = re.compile(r"^\s+(\S+)\s+(field_worker|coordinator|admin)\s+password: (\S+)$")


def _printed_logins(output: str) -> dict[str, tuple[str, str]]:
    return {
        m.group(1): (m.group(2), m.group(3))
        for line in output.splitlines()
        if (m := LOGIN_LINE.match(line))
    }


def test_demo_seed_is_idempotent_and_prints_logins_that_work(app, cli, client):
    first = cli("demo", "seed")
    assert first.exit_code == 0, first.output
    counts = _counts(app)
    assert counts["teams"] == 2
    assert counts["users"] == len(DEMO_PASSWORDS)
    assert counts["households"] >= 2

    second = cli("demo", "seed")
    assert second.exit_code == 0, second.output
    assert _counts(app) == counts

    logins = _printed_logins(first.output)
    assert _printed_logins(second.output) == logins
    assert {role for role, _ in logins.values()} == {"admin", "coordinator", "field_worker"}
    for username, (role, password) in logins.items():
        response = _login(client, username, password)
        assert response.status_code == 201, username
        assert response.get_json()["user"]["role"] == role


def test_demo_data_is_visible_to_the_demo_roles(cli, client):
    logins = _printed_logins(cli("demo", "seed").output)

    def session(username):
        token = _login(client, username, logins[username][1]).get_json()["token"]
        return ApiClient(client, token)

    coordinator = next(u for u, (role, _) in logins.items() if role == "coordinator")
    field_workers = [u for u, (role, _) in logins.items() if role == "field_worker"]
    everything = session(coordinator).get("/api/v1/households").get_json()["items"]
    assert len(everything) >= 2
    seen_by_field = [
        len(session(u).get("/api/v1/households").get_json()["items"]) for u in field_workers
    ]
    assert all(n >= 1 for n in seen_by_field)
    assert sum(seen_by_field) <= len(everything)


def test_demo_seed_refuses_production(app, cli, monkeypatch):
    monkeypatch.setitem(app.config, "ENV", "production")
    result = cli("demo", "seed")
    assert result.exit_code != 0
    assert "production" in result.output
    assert "password" not in result.output
    assert _counts(app) == {"teams": 0, "users": 0, "households": 0}


# --- db ----------------------------------------------------------------------------------


@pytest.fixture
def keep_logging():
    """Alembic's env.py reconfigures logging onto the runner's (soon closed) streams."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.commits
def test_db_current_shows_the_head_revision(cli, keep_logging):
    from alembic.script import ScriptDirectory

    from app.cli import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    result = cli("db", "current")
    assert result.exit_code == 0, result.output
    assert head in result.output
