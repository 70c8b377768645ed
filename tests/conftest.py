"""Test fixtures: a real, migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL).

Each test session migrates a database of its own with Alembic; each test starts from empty
tables. Requests go through the Flask test client; test code that calls services directly
opens its own app context (``with app.app_context():``), so no session is shared with the
requests under test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command

from app import create_app
from app.auth import service as auth_service
from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.auth.permissions import OPERATOR
from app.cli import alembic_config
from app.extensions import db, limiter
from app.households import service as household_service
from app.models import Base

PASSWORD = "correct-horse-battery"


# --- databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new, empty database of its own: dropped afterwards, so two runs never collide."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"
        return
    server = sa.engine.make_url(server_url)
    name = f"sp_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    with fresh_database(tmp_path_factory) as url:
        command.upgrade(alembic_config(url), "head")
        yield url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": database_url,
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        }
    )
    yield app
    db.session.remove()
    db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Every test starts with empty tables and fresh login throttles."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    db.session.remove()
    # the audit trail is append-only, in tests too: it only grows, and stays verifiable
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "audit_events"]
    with db.engine.begin() as conn:
        # DELETE, not TRUNCATE: on a handful of rows it is several times faster on PostgreSQL
        for table in tables:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    with app.app_context():
        limiter.reset()


@pytest.fixture
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


# --- query counting ----------------------------------------------------------------------


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` counts the SQL statements the block runs."""

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def record(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
                counter.statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)

    return counting


# --- waiting for a lock (PostgreSQL) ----------------------------------------------------


def wait_for_lock_waiters(count: int) -> None:
    """Until ``count`` sessions of this database wait on a lock (each poll a fresh snapshot):
    a race test holds a row from one connection and knows the others have queued behind it."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"{count} request(s) never came to wait on the lock")


# --- factories ---------------------------------------------------------------------------

_seq = itertools.count(1)


@pytest.fixture
def make_team(app):
    def make(name: str | None = None, area: str = "Test area"):
        with app.app_context():
            team = auth_service.create_team(OPERATOR, name=name or f"Team {next(_seq)}", area=area)
            db.session.commit()
            return team

    return make


@pytest.fixture
def make_user(app, make_team):
    def make(role: str = FIELD_WORKER, team=None, username: str | None = None, **kwargs):
        if role == FIELD_WORKER and team is None:
            team = make_team()
        with app.app_context():
            user = auth_service.create_user(
                OPERATOR,
                username=username or f"{role.replace('_', '')}{next(_seq)}",
                role=role,
                password=kwargs.pop("password", PASSWORD),
                full_name=kwargs.pop("full_name", "Test Person"),
                team_id=team.id if team else None,
                **kwargs,
            )
            db.session.commit()
            return user

    return make


class ApiClient:
    """The Flask test client, speaking JSON as one logged-in user."""

    def __init__(self, client, token: str | None, user=None) -> None:
        self.client = client
        self.token = token
        self.user = user

    def _headers(self, headers: dict | None) -> dict:
        result = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        result.update(headers or {})
        return result

    def get(self, url: str, headers: dict | None = None, **kwargs):
        return self.client.get(url, headers=self._headers(headers), **kwargs)

    def post(self, url: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.post(url, json=json, headers=self._headers(headers), **kwargs)

    def patch(self, url: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.patch(url, json=json, headers=self._headers(headers), **kwargs)

    def delete(self, url: str, headers: dict | None = None, **kwargs):
        return self.client.delete(url, headers=self._headers(headers), **kwargs)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(client):
    """``login(user)`` -> an ApiClient carrying that user's bearer token."""

    def do_login(user, password: str = PASSWORD) -> ApiClient:
        response = client.post(
            "/api/v1/auth/tokens", json={"username": user.username, "password": password}
        )
        assert response.status_code == 201, response.get_json()
        return ApiClient(client, response.get_json()["token"], user)

    return do_login


@pytest.fixture
def anonymous(client) -> ApiClient:
    return ApiClient(client, None)


@pytest.fixture
def team(make_team):
    return make_team("Team North")


@pytest.fixture
def other_team(make_team):
    return make_team("Team South")


@pytest.fixture
def field_worker(make_user, team):
    return make_user(FIELD_WORKER, team, username="fieldworker")


@pytest.fixture
def other_field_worker(make_user, other_team):
    return make_user(FIELD_WORKER, other_team, username="otherfield")


@pytest.fixture
def coordinator(make_user):
    return make_user(COORDINATOR, username="coordinator")


@pytest.fixture
def admin(make_user):
    return make_user(ADMIN, username="administrator")


@pytest.fixture
def as_field_worker(login, field_worker) -> ApiClient:
    return login(field_worker)


@pytest.fixture
def as_other_field_worker(login, other_field_worker) -> ApiClient:
    return login(other_field_worker)


@pytest.fixture
def as_coordinator(login, coordinator) -> ApiClient:
    return login(coordinator)


@pytest.fixture
def as_admin(login, admin) -> ApiClient:
    return login(admin)


@pytest.fixture
def make_household(app, coordinator, team):
    """``make_household(team=..., **fields)``: a household created through the service."""

    def make(team=team, **fields):
        fields.setdefault("locality", "Riverside")
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            household = household_service.create_household(
                actor, {"team_id": team.id if team else None, **fields}
            )
            db.session.commit()
            return household

    return make


@pytest.fixture
def make_person(app, coordinator):
    """``make_person(household, age=30, **fields)``: a member created through the service."""

    def make(household, age: int | None = 30, **fields):
        fields.setdefault("full_name", f"Person {next(_seq)}")
        if "date_of_birth" not in fields and age is not None:
            fields["estimated_age"] = age
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            person = household_service.add_member(actor, household, fields)
            db.session.commit()
            return person

    return make


@pytest.fixture
def make_guardian(app, coordinator):
    """``make_guardian(child, guardian_person | None, relationship, **fields)``."""

    def make(child, guardian=None, relationship: str = "mother", **fields):
        data = {"relationship": relationship, **fields}
        if guardian is not None:
            data["guardian_person_id"] = guardian.id
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            link = household_service.add_guardian(actor, child, data)
            db.session.commit()
            return link

    return make


@pytest.fixture
def make_consent(app):
    """``make_consent(recorder, subject, basis, decision, guardianship=None, **fields)``."""

    def make(recorder, subject, basis="self", decision="granted", guardianship=None, **fields):
        from app.consents import service as consent_service

        data = {
            "subject_id": subject.id,
            "basis": basis,
            "decision": decision,
            "given_at": fields.pop("given_at", dt.datetime.now(dt.UTC)),
            "evidence": fields.pop("evidence", "signed_form"),
            **fields,
        }
        if guardianship is not None:
            data["guardianship_id"] = guardianship.id
        with app.app_context():
            actor = db.session.get(type(recorder), recorder.id)
            record = consent_service.record_consent(actor, data)
            db.session.commit()
            return record

    return make


def png_bytes(size=(8, 6), colour=(200, 120, 40)) -> bytes:
    """A small real PNG image."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def make_offer(app, coordinator):
    """``make_offer(capacity=4, **fields)``: an available housing offer."""

    def make(**fields):
        from app.housing import service as housing_service

        data = {"title": "Flat by the park", "kind": "apartment", "locality": "Westbank"}
        data.setdefault("capacity", 4)
        data.update(fields)
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            offer = housing_service.create_offer(actor, data)
            db.session.commit()
            return offer

    return make


@pytest.fixture
def make_photo(app, coordinator):
    def make(offer, data: bytes | None = None, caption: str | None = "Living room"):
        from app.housing import service as housing_service

        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            photo = housing_service.add_photo(actor, offer.id, data or png_bytes(), caption)
            db.session.commit()
            return photo

    return make


@pytest.fixture
def make_proposal(app, coordinator):
    def make(household, offer, notes: str | None = None):
        from app.households.models import Household
        from app.housing import service as housing_service

        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            row = db.session.get(Household, household.id)
            proposal = housing_service.propose(actor, row, {"offer_id": offer.id, "notes": notes})
            db.session.commit()
            return proposal

    return make


@pytest.fixture
def make_evacuation(app, coordinator):
    def make(team, mode: str = "on_foot", **fields):
        from app.evacuations import service as evacuation_service

        data = {
            "team_id": team.id,
            "planned_departure": dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            "mode": mode,
            "meeting_point": "The old water tower",
            **fields,
        }
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            evacuation = evacuation_service.plan_evacuation(actor, data)
            db.session.commit()
            return evacuation

    return make
