"""Test fixtures: a real, migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL).

Each test session migrates a database of its own with Alembic; each test starts from empty
tables (but for the data its module shares, below). Requests go through the Flask test
client; test code that calls services directly opens its own app context (``with
app.app_context():``), so no session is shared with the requests under test.

How a test's writes go away (``_isolation``):

* By default a test runs inside one transaction on one connection, rolled back at its end.
  ``db.session`` is bound to that connection with ``join_transaction_mode=
  "create_savepoint"`` (SQLAlchemy's recipe "Joining a Session into an External
  Transaction"): the app's commits release a savepoint, a request's rollback rolls back to
  one, and what the test's requests and its own app contexts committed is seen by the rest
  of the test, as after a real commit. No other connection may be opened meanwhile: it would
  not see the test's data, or wait on its locks; the test fails if one is.
* A test marked ``commits`` commits for real, and every table but the (append-only) audit
  trail is emptied afterwards: races and waits on another connection's lock, threads and
  served apps with sessions of their own, apps built on an engine of their own.
* Data a whole module's tests start from (``shared_transaction``: the staff of
  ``staff_shared_by_the_module``, a module-scoped case of ``tests/case_data.py``) is made
  once, in an outer transaction held for the module and rolled back at its end; each test
  then runs in a savepoint of it. Such tests run last in their module, and no other test
  sees the data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from alembic import command

from app import create_app
from app.auth import service as auth_service
from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.auth.permissions import OPERATOR
from app.cli import alembic_config
from app.extensions import db, limiter
from app.households import guardianships, persons
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


class Outer:
    """The connection a module's shared data lives on, while a module holds one
    (``shared_transaction``); its tests run in savepoints of it."""

    connection: sa.Connection | None = None


def bind_session(connection: sa.Connection | None) -> None:
    """Bind ``db.session`` to ``connection`` (joining its transaction with savepoints), or
    back to the engine with ``None``."""
    db.session.remove()
    if connection is None:
        db.session.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")
    else:
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")


@contextlib.contextmanager
def one_connection_one_thread(request, connection: sa.Connection) -> Iterator[None]:
    """Fail the test if it checks another connection out of the engine's pool, or uses its
    connection from another thread: in a transaction that is rolled back, another connection
    sees none of the test's data and may wait on its locks, and a connection is no place for
    two threads. Such a test is marked ``commits``."""
    engine, owner = db.engine, threading.get_ident()
    misuse: list[str] = []

    def checkout(*_args) -> None:
        misuse.append("opened a connection of its own")

    def execute(*_args) -> None:
        if threading.get_ident() != owner:
            misuse.append("used the test's connection from another thread")

    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(connection, "before_cursor_execute", execute)
    try:
        yield
    finally:
        sa.event.remove(engine, "checkout", checkout)
        sa.event.remove(connection, "before_cursor_execute", execute)
    if misuse:
        pytest.fail(
            f"{request.node.nodeid} {misuse[0]} while its writes were to be rolled back: "
            "mark it @pytest.mark.commits",
            pytrace=False,
        )


@contextlib.contextmanager
def rolled_back(request) -> Iterator[sa.Connection]:
    """Run the block in a transaction (or, under a module's shared one, a savepoint) that
    is rolled back at its end; ``db.session`` joins it."""
    if Outer.connection is not None:
        connection = Outer.connection
        transaction = connection.begin_nested()
    else:
        connection = db.engine.connect()
        transaction = connection.begin()
    bind_session(connection)
    try:
        with one_connection_one_thread(request, connection):
            yield connection
    finally:
        db.session.remove()
        if transaction.is_active:
            transaction.rollback()
        if Outer.connection is None:
            connection.close()
            bind_session(None)
        else:
            bind_session(connection)


def empty_tables() -> None:
    """Delete every row but the audit trail's: it is append-only, in tests too (it only
    grows, and stays verifiable)."""
    db.session.remove()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "audit_events"]
    with db.engine.begin() as conn:
        # DELETE, not TRUNCATE: on a handful of rows it is several times faster on PostgreSQL
        for table in tables:
            conn.exec_driver_sql(f"DELETE FROM {table}")


@pytest.fixture(autouse=True)
def _isolation(request):
    """Every test starts with empty tables and fresh login throttles (see the docstring)."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    if Outer.connection is not None and "shared_transaction" not in request.fixturenames:
        pytest.fail(
            f"{request.node.nodeid} would see the data its module shares "
            "(shared_transaction); such tests run first in their module "
            "(pytest_collection_modifyitems)",
            pytrace=False,
        )
    if request.node.get_closest_marker("commits"):
        if Outer.connection is not None:
            pytest.fail("a test marked commits cannot use shared_transaction", pytrace=False)
        try:
            yield
        finally:
            empty_tables()
    else:
        with rolled_back(request):
            yield
    with app.app_context():
        limiter.reset()


@pytest.fixture(scope="module")
def shared_transaction(app) -> Iterator[sa.Connection]:
    """For data a whole module's tests read but never keep: made once (by a module-scoped
    fixture asking for this one), in a transaction held for the module and rolled back at
    its end; each test runs in a savepoint of it, rolled back too (``rolled_back``)."""
    connection = db.engine.connect()
    transaction = connection.begin()
    Outer.connection = connection
    bind_session(connection)
    try:
        yield connection
    finally:
        Outer.connection = None
        db.session.remove()
        transaction.rollback()
        connection.close()
        bind_session(None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In each module, the tests that read its shared data run last: a module's shared data
    lives from its first such test to the module's end, and no other test may see it."""
    position = {id(item): index for index, item in enumerate(items)}
    modules: dict[str, int] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], len(modules))

    def key(item: pytest.Item) -> tuple[int, bool, int]:
        shares = "shared_transaction" in getattr(item, "fixturenames", ())
        return modules[item.nodeid.split("::")[0]], shares, position[id(item)]

    items.sort(key=key)


@pytest.fixture
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


# --- query counting ----------------------------------------------------------------------


TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK TO")


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
            # transaction control is not counted; under the per-test rollback a commit is
            # a RELEASE and a rollback a ROLLBACK TO SAVEPOINT
            if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
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
# Each ``*_maker`` returns a function that makes one thing through the services, committed in
# an app context of its own; the ``make_*`` fixtures (registered below the makers) are those
# functions for a test, acting as the ``coordinator`` fixture. ``tests/case_data.py`` calls
# the makers for data a whole module shares.

_seq = itertools.count(1)


def team_maker(app):
    def make(name: str | None = None, area: str = "Test area"):
        with app.app_context():
            team = auth_service.create_team(OPERATOR, name=name or f"Team {next(_seq)}", area=area)
            db.session.commit()
            return team

    return make


def user_maker(app, make_team):
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


#: The staff fixtures above, and what ``shared_staff`` makes for them.
STAFF = ("team", "other_team", "field_worker", "other_field_worker", "coordinator", "admin")


@pytest.fixture(scope="module")
def shared_staff(app, shared_transaction) -> dict:
    """The six staff fixtures' teams and users, as they make them, all at once, in the
    module's shared transaction (``staff_shared_by_the_module``)."""
    make_team = team_maker(app)
    make_user = user_maker(app, make_team)
    north, south = make_team("Team North"), make_team("Team South")
    return {
        "team": north,
        "other_team": south,
        "field_worker": make_user(FIELD_WORKER, north, username="fieldworker"),
        "other_field_worker": make_user(FIELD_WORKER, south, username="otherfield"),
        "coordinator": make_user(COORDINATOR, username="coordinator"),
        "admin": make_user(ADMIN, username="administrator"),
    }


def staff_shared_by_the_module() -> tuple:
    """Module-scoped stand-ins for the staff fixtures (``STAFF``, in that order): the same
    teams and users, made once for the module instead of once per test, all six from its
    first test that asks for one. A module whose tests all start from the staff takes them
    with ``team, other_team, field_worker, other_field_worker, coordinator, admin =
    staff_shared_by_the_module()``; its tests must not be marked ``commits``."""

    def stand_in(name: str):
        def fixture(shared_staff):
            return shared_staff[name]

        fixture.__doc__ = f"The module's ``{name}`` (``shared_staff``)."
        return pytest.fixture(fixture, scope="module", name=name)

    return tuple(stand_in(name) for name in STAFF)


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


def household_maker(app, coordinator, team):
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


def person_maker(app, coordinator):
    """``make_person(household, age=30, **fields)``: a member created through the service."""

    def make(household, age: int | None = 30, **fields):
        fields.setdefault("full_name", f"Person {next(_seq)}")
        if "date_of_birth" not in fields and age is not None:
            fields["estimated_age"] = age
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            person = persons.add_member(actor, household.id, fields)
            db.session.commit()
            return person

    return make


def guardian_maker(app, coordinator):
    """``make_guardian(child, guardian_person | None, relationship, **fields)``."""

    def make(child, guardian=None, relationship: str = "mother", **fields):
        data = {"relationship": relationship, **fields}
        if guardian is not None:
            data["guardian_person_id"] = guardian.id
        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            link = guardianships.add_guardian(actor, child.id, data)
            db.session.commit()
            return link

    return make


def consent_maker(app):
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


def offer_maker(app, coordinator):
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


def photo_maker(app, coordinator):
    def make(offer, data: bytes | None = None, caption: str | None = "Living room"):
        from app.housing import photos

        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            photo = photos.add_photo(actor, offer.id, data or png_bytes(), caption)
            db.session.commit()
            return photo

    return make


def proposal_maker(app, coordinator):
    def make(household, offer, notes: str | None = None):
        from app.housing import proposals

        with app.app_context():
            actor = db.session.get(type(coordinator), coordinator.id)
            proposal = proposals.propose(
                actor, household.id, {"offer_id": offer.id, "notes": notes}
            )
            db.session.commit()
            return proposal

    return make


def evacuation_maker(app, coordinator):
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


make_team = pytest.fixture(team_maker, name="make_team")
make_user = pytest.fixture(user_maker, name="make_user")
make_household = pytest.fixture(household_maker, name="make_household")
make_person = pytest.fixture(person_maker, name="make_person")
make_guardian = pytest.fixture(guardian_maker, name="make_guardian")
make_consent = pytest.fixture(consent_maker, name="make_consent")
make_offer = pytest.fixture(offer_maker, name="make_offer")
make_photo = pytest.fixture(photo_maker, name="make_photo")
make_proposal = pytest.fixture(proposal_maker, name="make_proposal")
make_evacuation = pytest.fixture(evacuation_maker, name="make_evacuation")


@dataclass(frozen=True)
class Makers:
    """The factories together, acting as one coordinator: ``makers.household(...)``."""

    team: Callable
    user: Callable
    household: Callable
    person: Callable
    guardian: Callable
    consent: Callable
    offer: Callable
    photo: Callable
    proposal: Callable
    evacuation: Callable

    @classmethod
    def acting_as(cls, app, coordinator, team) -> Makers:
        """The makers without a test's fixtures (a module's shared data): households are
        made in ``team`` unless told otherwise, everything by ``coordinator``."""
        make_team = team_maker(app)
        return cls(
            team=make_team,
            user=user_maker(app, make_team),
            household=household_maker(app, coordinator, team),
            person=person_maker(app, coordinator),
            guardian=guardian_maker(app, coordinator),
            consent=consent_maker(app),
            offer=offer_maker(app, coordinator),
            photo=photo_maker(app, coordinator),
            proposal=proposal_maker(app, coordinator),
            evacuation=evacuation_maker(app, coordinator),
        )


@pytest.fixture
def makers(app, coordinator, team) -> Makers:
    """The ``make_*`` fixtures together, acting as ``coordinator``, households in ``team``."""
    return Makers.acting_as(app, coordinator, team)
