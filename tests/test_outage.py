"""A database outage answers 503 problem+json with Retry-After, never a 500 (issue 8, point 8).

Real outages: an app whose PostgreSQL does not listen, a SQLite file that cannot be opened,
a PostgreSQL database that stops accepting connections while the app runs and comes back,
and a connection killed in the middle of a request. The apps here are built with
``create_app`` and driven through the test client; TESTING stays on, so an error that took
the 500 path would be raised into the test instead of answered.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from app.errors import database_unavailable
from app.extensions import db
from tests.built_app import built_app
from tests.conftest import fresh_database

PROBLEM = "application/problem+json"
PASSWORD = "amber-kestrel-harbour-1987"
#: well formed, so only the database can tell whether it is valid
TOKEN = {"Authorization": "Bearer sp_" + "x" * 43}


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "5"
    problem = response.get_json()
    assert problem["status"] == 503
    assert problem["code"] == "database_unavailable"
    assert problem["type"] == "urn:safe-passage:problem:database_unavailable"
    assert response.headers["X-Request-ID"]


def requests_during_an_outage(client) -> list:
    return [
        client.get("/api/v1/me", headers=TOKEN),
        client.post("/api/v1/auth/tokens", json={"username": "olena", "password": PASSWORD}),
        client.post("/api/v1/households", json={"locality": "Riverside"}, headers=TOKEN),
        client.get("/readyz"),
    ]


def test_a_postgres_that_does_not_listen_answers_503(tmp_path, capsys):
    secret = "hunter2-not-in-any-log"
    url = f"postgresql+psycopg://safepassage:{secret}@127.0.0.1:1/safepassage"
    with built_app({"ENV": "testing", "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path)}) as app:
        client = app.test_client()
        for response in requests_during_an_outage(client):
            assert_unavailable(response)
            assert secret not in response.get_data(as_text=True)
        assert client.get("/healthz").status_code == 200  # the process itself lives
    logged = capsys.readouterr().err  # the app's log handler writes to stderr
    assert "database unavailable" in logged
    assert secret not in logged


def test_a_sqlite_file_that_cannot_be_opened_answers_503(tmp_path):
    folder = tmp_path / "not-a-database-file"
    folder.mkdir()
    with built_app(
        {"ENV": "testing", "DATABASE_URL": f"sqlite:///{folder}", "UPLOAD_DIR": str(tmp_path)}
    ) as app:
        for response in requests_during_an_outage(app.test_client()):
            assert_unavailable(response)


def test_which_errors_mean_the_database_cannot_serve(tmp_path):
    """Real driver errors: a lock held past the wait is an outage; a bug never is."""
    path = tmp_path / "locked.db"
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sa.exc.OperationalError) as locked, engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (id) VALUES (1)")
    finally:
        holder.rollback()
        holder.close()
    assert "locked" in str(locked.value)
    assert database_unavailable(locked.value)

    with pytest.raises(sa.exc.OperationalError) as typo, engine.begin() as conn:
        conn.exec_driver_sql("SELEC 1")
    assert not database_unavailable(typo.value)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (id) VALUES (2)")
    with pytest.raises(sa.exc.IntegrityError) as duplicate, engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t (id) VALUES (2)")
    assert not database_unavailable(duplicate.value)
    assert not database_unavailable(RuntimeError("not a database error"))
    engine.dispose()


# --- PostgreSQL going away while the app runs --------------------------------------------


@pytest.fixture
def postgres_only(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("needs a PostgreSQL server to take away")


@contextlib.contextmanager
def running_app(tmp_path_factory, tmp_path):
    """A migrated database of its own, an app on it, a coordinator and their token."""
    admin = sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with fresh_database(tmp_path_factory) as url:
        command.upgrade(alembic_config(url), "head")
        settings = {"ENV": "testing", "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path)}
        try:
            with built_app(settings) as app:
                created = app.test_cli_runner().invoke(
                    args=["users", "create", "olena", "--role", "coordinator", "--password-stdin"],
                    input=PASSWORD + "\n",
                )
                assert created.exit_code == 0, created.output
                client = app.test_client()
                login = client.post(
                    "/api/v1/auth/tokens", json={"username": "olena", "password": PASSWORD}
                )
                assert login.status_code == 201, login.get_json()
                token = {"Authorization": f"Bearer {login.get_json()['token']}"}
                yield app, client, token, admin, sa.engine.make_url(url).database
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name_of(url)}" ALLOW_CONNECTIONS true')
            admin.dispose()


def name_of(url: str) -> str:
    return sa.engine.make_url(url).database


def terminate_backends(admin: sa.Engine, database: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :database AND pid <> pg_backend_pid()"
            ),
            {"database": database},
        )


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_a_database_that_goes_away_and_comes_back(tmp_path_factory, tmp_path):
    with running_app(tmp_path_factory, tmp_path) as (_app, client, token, admin, database):
        assert client.get("/api/v1/me", headers=token).status_code == 200

        # a restart: every connection is cut, the server is back at once; pre-ping hides it
        terminate_backends(admin, database)
        assert client.get("/api/v1/me", headers=token).status_code == 200

        # an outage: connections cut, and no new ones accepted
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        terminate_backends(admin, database)
        assert_unavailable(client.get("/api/v1/me", headers=token))
        assert_unavailable(
            client.post("/api/v1/auth/tokens", json={"username": "olena", "password": PASSWORD})
        )
        assert_unavailable(
            client.post("/api/v1/households", json={"locality": "Riverside"}, headers=token)
        )
        assert_unavailable(client.get("/readyz"))

        # back: the same token works again, nothing was lost
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert client.get("/readyz").status_code == 200
        me = client.get("/api/v1/me", headers=token)
        assert me.status_code == 200
        assert me.get_json()["username"] == "olena"


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_a_connection_killed_in_the_middle_of_a_request(tmp_path_factory, tmp_path):
    with running_app(tmp_path_factory, tmp_path) as (_app, client, token, admin, _database):
        killed: list[int] = []

        def kill_this_connection_once(conn, _cursor, statement, *_args):
            if killed or "households" not in statement:
                return
            pid = conn.connection.driver_connection.info.backend_pid
            killed.append(pid)
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                for _ in range(100):  # until the backend has really gone
                    gone = not other.execute(
                        sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                    ).first()
                    if gone:
                        break
                    time.sleep(0.05)

        sa.event.listen(db.engine, "before_cursor_execute", kill_this_connection_once)
        try:
            response = client.post(
                "/api/v1/households",
                json={"locality": "Riverside", "id": str(uuid.uuid4())},
                headers=token,
            )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", kill_this_connection_once)
        assert killed
        assert_unavailable(response)
        # the pool replaced the dead connection: the next request works
        listing = client.get("/api/v1/households", headers=token)
        assert listing.status_code == 200
        assert listing.get_json()["items"] == []  # the interrupted creation left nothing
