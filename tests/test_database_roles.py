"""The running service has no more database rights than it needs (issue 8, point 3).

On PostgreSQL a fresh database is migrated as its owner (`db upgrade` with
MIGRATION_DATABASE_URL), `db grant-runtime` makes the service's role, and that role is then
tried the way an intruder who took over the service would: it must not be able to rewrite,
remove or un-trigger the audit trail, nor change the schema; and the app, running as that
role, must still do its work. Roles belong to the whole server: each test names its own and
drops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from app.db_grants import APPEND_ONLY_TABLES, runtime_privileges
from app.models import Base
from tests.built_app import built_app

RUNTIME_PASSWORD = "quiet-otter-maple-voyage-42"
USER_PASSWORD = "amber-kestrel-harbour-1987"


@pytest.fixture
def postgres_only(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no database roles")


@contextlib.contextmanager
def runtime_setup() -> Iterator[dict]:
    """As in production: an owner role (LOGIN CREATEROLE, no superuser) and a database it
    owns; a unique name for the service's role. Everything is dropped afterwards."""
    server = sa.engine.make_url(os.environ["TEST_DATABASE_URL"])
    suffix = uuid.uuid4().hex[:10]
    owner_role, role, database = f"sp_owner_{suffix}", f"sp_runtime_{suffix}", f"sp_roles_{suffix}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    owner = superuser = None
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{owner_role}" LOGIN CREATEROLE')
            conn.exec_driver_sql(f'CREATE DATABASE "{database}" OWNER "{owner_role}"')
        owner_url = server.set(username=owner_role, database=database)
        owner = sa.create_engine(owner_url)
        superuser = sa.create_engine(server.set(database=database), isolation_level="AUTOCOMMIT")
        yield {
            "role": role,
            "owner_url": owner_url.render_as_string(hide_password=False),
            "runtime_url": server.set(
                username=role, password=RUNTIME_PASSWORD, database=database
            ).render_as_string(hide_password=False),
            "owner": owner,
            "superuser": superuser,
            "database": database,
        }
    finally:
        for engine in (owner, superuser):
            if engine is not None:
                engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{owner_role}"')
        admin.dispose()


def runtime_connection(setup: dict) -> psycopg.Connection:
    url = sa.engine.make_url(setup["runtime_url"])
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


def app_settings(setup: dict, tmp_path) -> dict:
    return {
        "ENV": "testing",
        "DATABASE_URL": setup["runtime_url"],
        "MIGRATION_DATABASE_URL": setup["owner_url"],
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }


def migrate_and_grant(app, setup: dict) -> None:
    runner = app.test_cli_runner()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "grant-runtime" in upgraded.output  # the reminder
    granted = runner.invoke(
        args=["db", "grant-runtime", setup["role"], "--password-stdin"],
        input=RUNTIME_PASSWORD + "\n",
    )
    assert granted.exit_code == 0, granted.output
    assert f"role {setup['role']}: created; password set" in granted.output


def effective_privileges(setup: dict) -> dict[str, set[str]]:
    """What the role may really do to each table of the schema, as PostgreSQL answers."""
    privileges = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    with setup["owner"].connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
                " unnest(CAST(:privileges AS text[])) AS p WHERE n.nspname = 'public' "
                "AND c.relkind = 'r' AND has_table_privilege(:role, c.oid, p)"
            ),
            {"role": setup["role"], "privileges": list(privileges)},
        ).all()
    found: dict[str, set[str]] = {}
    for table, privilege in rows:
        found.setdefault(table, set()).add(privilege)
    return found


REFUSED = [
    "UPDATE audit_events SET action = 'edited'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "SELECT id FROM audit_events FOR UPDATE",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    "DROP TABLE audit_events",
    "ALTER TABLE audit_events OWNER TO CURRENT_USER",
    "DROP TABLE persons",
    "ALTER TABLE persons ADD COLUMN smuggled text",
    "TRUNCATE persons",
    "CREATE TABLE public.smuggled (id integer)",
    "CREATE TABLE smuggled (id integer)",
    "CREATE SCHEMA smuggled",
    "UPDATE alembic_version SET version_num = 'x'",
    "CREATE ROLE smuggled_role",
]


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_the_runtime_role_cannot_rewrite_the_trail_or_the_schema(tmp_path):
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        # an event to try to edit: written by the app itself, as the runtime role
        created = app.test_cli_runner().invoke(
            args=["users", "create", "olena", "--role", "admin", "--password-stdin"],
            input=USER_PASSWORD + "\n",
        )
        assert created.exit_code == 0, created.output
        with setup["superuser"].connect() as conn:
            events_before = conn.scalar(sa.text("SELECT count(*) FROM audit_events"))
            stored = conn.scalar(
                sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"),
                {"r": setup["role"]},
            )
        assert events_before >= 1
        assert stored.startswith("SCRAM-SHA-256$")  # only a verifier reached the server

        with runtime_connection(setup) as conn:
            for statement in REFUSED:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            # what it may do to the trail: read and append
            assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == events_before

        with setup["owner"].connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_events")) == events_before
            assert (
                conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass "
                        "AND NOT tgisinternal AND tgenabled = 'O'"
                    )
                )
                >= 2
            )
        # exactly the rights the service needs, nothing on anything else
        wanted = {table: set(privileges) for table, privileges in runtime_privileges().items()}
        assert wanted["audit_events"] == {"SELECT", "INSERT"}
        assert effective_privileges(setup) == wanted
        assert "alembic_version" not in effective_privileges(setup)
        with setup["owner"].connect() as conn:
            owned = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid "
                    "WHERE r.rolname = :r AND d.deptype = 'o'"
                ),
                {"r": setup["role"]},
            )
            attributes = conn.execute(
                sa.text(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
                    "rolcanlogin FROM pg_roles WHERE rolname = :r"
                ),
                {"r": setup["role"]},
            ).one()
        assert owned == 0
        assert tuple(attributes) == (False, False, False, False, False, True)


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_the_app_does_its_work_as_the_runtime_role(tmp_path):
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        runner = app.test_cli_runner()
        for username, role in (("olena", "admin"), ("marta", "coordinator")):
            created = runner.invoke(
                args=["users", "create", username, "--role", role, "--password-stdin"],
                input=USER_PASSWORD + "\n",
            )
            assert created.exit_code == 0, created.output
        with setup["owner"].connect() as conn:
            events_before = conn.scalar(sa.text("SELECT count(*) FROM audit_events"))

        client = app.test_client()

        def login(username: str) -> dict:
            response = client.post(
                "/api/v1/auth/tokens", json={"username": username, "password": USER_PASSWORD}
            )
            assert response.status_code == 201, response.get_json()
            return {"Authorization": f"Bearer {response.get_json()['token']}"}

        admin = login("olena")
        team = client.post(
            "/api/v1/teams",
            json={"name": "Team Aster", "area": "Riverside"},
            headers={**admin, "Idempotency-Key": "team-aster-1"},
        )
        assert team.status_code == 201, team.get_json()
        coordinator = login("marta")
        body = {
            "team_id": team.get_json()["id"],
            "locality": "Riverside",
            "address_description": "Blue gate by the old mill",
            "contact_phone": "+000 555 0100",
        }
        created = client.post(
            "/api/v1/households",
            json=body,
            headers={**coordinator, "Idempotency-Key": "household-1"},
        )
        assert created.status_code == 201, created.get_json()
        household = created.get_json()
        read = client.get(f"/api/v1/households/{household['id']}", headers=coordinator)
        assert read.status_code == 200, read.get_json()
        assert read.get_json()["address_description"] == "Blue gate by the old mill"
        assert read.get_json()["contact_phone"] == "+000 555 0100"
        # a retried creation replays from the idempotency table (read and written as the role)
        again = client.post(
            "/api/v1/households",
            json=body,
            headers={**coordinator, "Idempotency-Key": "household-1"},
        )
        assert again.status_code == 201, again.get_json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json()["id"] == household["id"]
        logged_out = client.delete("/api/v1/auth/tokens/current", headers=admin)
        assert logged_out.status_code == 204

        with setup["owner"].connect() as conn:
            events_after = conn.scalar(sa.text("SELECT count(*) FROM audit_events"))
            households = conn.scalar(sa.text("SELECT count(*) FROM households"))
        assert events_after > events_before  # logins, creations and the read went on record
        assert households == 1
        verified = runner.invoke(args=["audit", "verify"])
        assert verified.exit_code == 0, verified.output


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_grant_runtime_is_idempotent_and_takes_back_extra_rights(tmp_path):
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        granted = effective_privileges(setup)
        role = setup["role"]
        with setup["owner"].begin() as conn:  # an earlier, careless setup
            conn.exec_driver_sql(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
            conn.exec_driver_sql(f'GRANT CREATE ON SCHEMA public TO "{role}"')
        assert "UPDATE" in effective_privileges(setup)["audit_events"]

        again = app.test_cli_runner().invoke(args=["db", "grant-runtime", role])
        assert again.exit_code == 0, again.output
        assert f"role {role}: exists; password unchanged" in again.output
        assert effective_privileges(setup) == granted
        with runtime_connection(setup) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("UPDATE audit_events SET action = 'edited'")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE smuggled (id integer)")


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_grant_runtime_refuses_a_role_that_owns_tables_or_inherits_rights(tmp_path):
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        role = setup["role"]
        runner = app.test_cli_runner()
        with setup["superuser"].connect() as conn:  # what a careless superuser may do
            conn.exec_driver_sql(f'ALTER TABLE teams OWNER TO "{role}"')
        refused = runner.invoke(args=["db", "grant-runtime", role])
        assert refused.exit_code == 1
        assert re.search(r"owns \d+ object\(s\)", refused.output), refused.output
        assert "REASSIGN OWNED" in refused.output

        owner = sa.engine.make_url(setup["owner_url"]).username
        with setup["superuser"].connect() as conn:
            conn.exec_driver_sql(f'ALTER TABLE teams OWNER TO "{owner}"')
            conn.exec_driver_sql(f'GRANT pg_write_all_data TO "{role}"')
        refused = runner.invoke(args=["db", "grant-runtime", role])
        assert refused.exit_code == 1
        assert "member of pg_write_all_data" in refused.output
        with setup["superuser"].connect() as conn:
            conn.exec_driver_sql(f'REVOKE pg_write_all_data FROM "{role}"')
        assert runner.invoke(args=["db", "grant-runtime", role]).exit_code == 0

        # the role running migrations is never the service's
        refused = runner.invoke(args=["db", "grant-runtime", owner])
        assert refused.exit_code == 1
        assert "needs a role of its own" in refused.output
        refused = runner.invoke(args=["db", "grant-runtime", 'x"; DROP TABLE persons; --'])
        assert refused.exit_code == 1
        assert "not a role name" in refused.output


def test_grant_runtime_on_sqlite_has_nothing_to_grant(tmp_path):
    with built_app(
        {"ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.db'}"}
    ) as app:
        result = app.test_cli_runner().invoke(args=["db", "grant-runtime", "safepassage_app"])
    assert result.exit_code == 0, result.output
    assert "no database roles: nothing to grant" in result.output


def test_only_the_audit_trail_is_append_only():
    """Every table of the models gets a decision; only the audit trail is read-and-append."""
    privileges = runtime_privileges()
    assert set(privileges) == set(Base.metadata.tables)
    assert set(privileges) >= APPEND_ONLY_TABLES
    assert {t for t, p in privileges.items() if "UPDATE" not in p} == {"audit_events"}
