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
import datetime as dt
import io
import logging
import os
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from app.db import ROW_PRIVILEGES, runtime_rights, runtime_rights_of
from app.db_grants import GrantError, runtime_privileges, warn_if_owner
from app.models import Base
from tests.built_app import built_app
from tests.conftest import png_bytes

RUNTIME_PASSWORD = "quiet-otter-maple-voyage-42"
USER_PASSWORD = "amber-kestrel-harbour-1987"

APPEND = {"SELECT", "INSERT"}
CHANGE = {"SELECT", "INSERT", "UPDATE"}
#: Exactly what the service does to each table (tests/test_database_roles.py is where a new
#: table's rights are reviewed): appends; changes (or locks, or retention anonymises) but
#: never removes; or also removes.
EXPECTED_RIGHTS = {
    "audit_events": APPEND,
    "timeline_entries": APPEND,
    "change_feed": APPEND,
    "teams": APPEND,
    "users": CHANGE,
    "api_tokens": CHANGE,
    "households": CHANGE,
    "persons": CHANGE,
    "guardianships": CHANGE,
    "visits": CHANGE,
    "visit_stances": CHANGE,
    "consent_records": CHANGE,
    "evacuations": CHANGE,
    "housing_offers": CHANGE,
    "housing_proposals": CHANGE,
    "housing_photos": {"SELECT", "INSERT", "DELETE"},
    "evacuation_members": CHANGE | {"DELETE"},
    "photo_blobs": CHANGE | {"DELETE"},
    "idempotency_keys": CHANGE | {"DELETE"},
}


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
    # the record of what was decided and done is never removed by the service
    "DELETE FROM consent_records",
    "DELETE FROM visits",
    "DELETE FROM visit_stances",
    "DELETE FROM persons",
    "DELETE FROM households",
    "DELETE FROM guardianships",
    "DELETE FROM evacuations",
    "DELETE FROM housing_offers",
    "DELETE FROM housing_proposals",
    "DELETE FROM users",
    "DELETE FROM api_tokens",
    "DELETE FROM teams",
    # and what it only appends to is never changed either
    "DELETE FROM timeline_entries",
    "UPDATE timeline_entries SET kind = 'status_changed'",
    "SELECT id FROM timeline_entries FOR UPDATE",
    "UPDATE teams SET name = 'Smuggled'",
    "UPDATE housing_photos SET caption = 'edited'",
    "TRUNCATE consent_records",
    "TRUNCATE timeline_entries",
    "DELETE FROM change_feed",
    "UPDATE change_feed SET action = 'delete'",
    "SELECT seq FROM change_feed FOR UPDATE",
    "TRUNCATE change_feed",
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
        assert effective_privileges(setup) == EXPECTED_RIGHTS
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
    """Every kind of write the service makes, through HTTP and the operator's commands,
    as the runtime role: a right missing from the matrix fails here."""
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        runner = app.test_cli_runner()

        def create_user(username: str, role: str, *team: str) -> None:
            created = runner.invoke(
                args=["users", "create", username, "--role", role, *team, "--password-stdin"],
                input=USER_PASSWORD + "\n",
            )
            assert created.exit_code == 0, created.output

        def owner_scalar(statement: str, **params):
            with setup["owner"].connect() as conn:
                return conn.scalar(sa.text(statement), params)

        create_user("olena", "admin")
        events_before = owner_scalar("SELECT count(*) FROM audit_events")
        client = app.test_client()

        def login(username: str) -> dict:
            response = client.post(
                "/api/v1/auth/tokens", json={"username": username, "password": USER_PASSWORD}
            )
            assert response.status_code == 201, response.get_json()
            return {"Authorization": f"Bearer {response.get_json()['token']}"}

        def call(method: str, url: str, who: dict, expected: int = 200, **kwargs):
            response = client.open(f"/api/v1{url}", method=method, headers=who, **kwargs)
            assert response.status_code == expected, (url, response.get_json())
            return response

        admin = login("olena")
        team = call(
            "POST",
            "/teams",
            {**admin, "Idempotency-Key": "team-aster-1"},
            201,
            json={"name": "Team Aster", "area": "Riverside"},
        ).get_json()
        create_user("marta", "coordinator")
        create_user("ivan", "field_worker", "--team", "Team Aster")
        coordinator, worker = login("marta"), login("ivan")

        # a household, created once and replayed from the idempotency table
        body = {
            "team_id": team["id"],
            "locality": "Riverside",
            "address_description": "Blue gate by the old mill",
            "contact_phone": "+000 555 0100",
        }
        household = call(
            "POST", "/households", {**coordinator, "Idempotency-Key": "household-1"}, 201, json=body
        ).get_json()
        again = call(
            "POST", "/households", {**coordinator, "Idempotency-Key": "household-1"}, 201, json=body
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json()["id"] == household["id"]
        hid = household["id"]
        read = call("GET", f"/households/{hid}", coordinator).get_json()
        assert read["address_description"] == "Blue gate by the old mill"

        def member(name: str, age: int) -> str:
            return call(
                "POST",
                f"/households/{hid}/members",
                worker,
                201,
                json={"full_name": name, "estimated_age": age},
            ).get_json()["id"]

        mother, child, uncle = (
            member("Daryna Test", 34),
            member("Sofia Test", 7),
            member("Petro Test", 52),
        )
        link = call(
            "POST",
            f"/persons/{child}/guardians",
            worker,
            201,
            json={"guardian_person_id": mother, "relationship": "mother"},
        ).get_json()
        now = dt.datetime.now(dt.UTC)
        call(
            "POST",
            f"/households/{hid}/visits",
            worker,
            201,
            json={
                "visited_at": now.isoformat(),
                "outcome": "talked",
                "stances": [{"person_id": mother, "stance": "wants_to_leave", "note": "Packed"}],
                "notes": "Talked at the gate.",
            },
        )
        assert call("GET", f"/households/{hid}", worker).get_json()["status"] == "engaging"
        ready = call("POST", f"/households/{hid}/status", worker, json={"status": "ready"})
        assert ready.get_json()["status"] == "ready"

        def consent(subject: str, basis: str, **more) -> dict:
            return call(
                "POST",
                "/consents",
                worker,
                201,
                json={
                    "subject_id": subject,
                    "basis": basis,
                    "decision": "granted",
                    "given_at": now.isoformat(),
                    "evidence": "signed_form",
                    **more,
                },
            ).get_json()

        consent(mother, "self")
        grant = consent(child, "parental", guardianship_id=link["id"])
        verified = call(
            "POST", f"/consents/{grant['id']}/verify", coordinator, json={"note": "Form checked."}
        )
        assert verified.get_json()["review_status"] == "verified"
        withdrawn = consent(uncle, "self")
        revoked = call(
            "POST",
            f"/consents/{withdrawn['id']}/revoke",
            worker,
            json={"reason": "He decided to stay."},
        )
        assert revoked.get_json()["revoked_at"] is not None

        # an offer, a photo uploaded and deleted (its file's row goes with it), another kept
        offer = call(
            "POST",
            "/housing-offers",
            coordinator,
            201,
            json={
                "title": "Flat by the park",
                "kind": "apartment",
                "locality": "Westbank",
                "capacity": 4,
            },
        ).get_json()

        def upload(colour: tuple[int, int, int]) -> str:
            return call(
                "POST",
                f"/housing-offers/{offer['id']}/photos",
                coordinator,
                201,
                data={
                    "file": (io.BytesIO(png_bytes(colour=colour)), "room.png"),
                    "caption": "Kitchen",
                },
                content_type="multipart/form-data",
            ).get_json()["id"]

        gone = upload((10, 20, 30))
        assert owner_scalar("SELECT count(*) FROM photo_blobs") == 1
        call("DELETE", f"/housing-offers/{offer['id']}/photos/{gone}", coordinator, 204)
        assert owner_scalar("SELECT count(*) FROM photo_blobs") == 0
        upload((200, 100, 50))

        # an evacuation: members added (the one who revoked is refused), one removed and
        # added again, departure, arrival
        evacuation = call(
            "POST",
            "/evacuations",
            coordinator,
            201,
            json={
                "team_id": team["id"],
                "planned_departure": (now + dt.timedelta(days=1)).isoformat(),
                "mode": "on_foot",
                "meeting_point": "The old water tower",
            },
        ).get_json()
        eid = evacuation["id"]
        members = f"/evacuations/{eid}/members"
        with_mother = {"person_id": child, "accompanied_by_person_id": mother}
        call("POST", members, coordinator, 201, json={"person_id": mother})
        call("POST", members, coordinator, 201, json=with_mother)
        refused = client.post(f"/api/v1{members}", json={"person_id": uncle}, headers=coordinator)
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json()["reasons"][0]["code"] == "consent_missing"
        removed = call("DELETE", f"{members}/{child}", coordinator).get_json()
        assert [m["person_id"] for m in removed["members"]] == [mother]
        call("POST", members, coordinator, 201, json=with_mother)
        call("POST", f"/evacuations/{eid}/depart", coordinator, json={})
        arrived = call("POST", f"/evacuations/{eid}/arrive", coordinator, json={}).get_json()
        assert arrived["status"] == "arrived"

        # the case closes, the offer is withdrawn; time passes (the owner moves the clock)
        closed = call(
            "POST",
            f"/households/{hid}/status",
            coordinator,
            json={"status": "closed", "reason": "left_by_other_means"},
        )
        assert closed.get_json()["status"] == "closed"
        etag = call("GET", f"/housing-offers/{offer['id']}", coordinator).headers["ETag"]
        call(
            "PATCH",
            f"/housing-offers/{offer['id']}",
            {**coordinator, "If-Match": etag},
            json={"status": "withdrawn"},
        )
        logged_out = call("DELETE", "/auth/tokens/current", admin, 204)
        assert logged_out.status_code == 204
        long_ago = now - dt.timedelta(days=60)
        with setup["owner"].begin() as conn:
            for table in ("households", "housing_offers"):
                conn.execute(sa.text(f"UPDATE {table} SET updated_at = :t"), {"t": long_ago})
            conn.execute(sa.text("UPDATE idempotency_keys SET expires_at = :t"), {"t": long_ago})
        counts = "SELECT (SELECT count(*) FROM consent_records), (SELECT count(*) FROM visits), "
        counts += "(SELECT count(*) FROM timeline_entries), (SELECT count(*) FROM persons)"
        with setup["owner"].connect() as conn:
            kept = tuple(conn.execute(sa.text(counts)).one())
            # the teams' change feed was written as the runtime role
            assert conn.scalar(sa.text("SELECT count(*) FROM change_feed")) > 0

        # the operator's purge, with the service's URL (DATABASE_URL): as the runtime role
        purged = runner.invoke(args=["retention", "purge", "--older-than-days", "30"])
        assert purged.exit_code == 0, purged.output
        assert "anonymised 1 household(s) and 3 person(s)" in purged.output
        assert "removed 1 photo(s)" in purged.output
        with setup["owner"].connect() as conn:
            assert tuple(conn.execute(sa.text(counts)).one()) == kept  # nothing removed
            assert conn.scalar(sa.text("SELECT count(*) FROM housing_photos")) == 0
            assert conn.scalar(sa.text("SELECT count(*) FROM photo_blobs")) == 0
            assert conn.scalar(sa.text("SELECT count(*) FROM idempotency_keys")) == 0
            assert (
                conn.scalar(
                    sa.text("SELECT address_description FROM households WHERE id = :h"), {"h": hid}
                )
                is None
            )
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_events")) > events_before
        verified = runner.invoke(args=["audit", "verify"])
        assert verified.exit_code == 0, verified.output
        assert "audit chain intact" in verified.output


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


def test_every_table_declares_what_the_service_may_do_to_its_rows():
    """The decision is on each model (``app.db.runtime_rights``); this matrix is where it is
    reviewed. A new table without one fails here, and `db grant-runtime` refuses it."""
    undecided = [t.name for t in Base.metadata.sorted_tables if runtime_rights_of(t) is None]
    assert undecided == [], "add runtime_rights(...) to these models' __table_args__"
    assert {t: set(p) for t, p in runtime_privileges().items()} == EXPECTED_RIGHTS


def test_what_a_table_may_be_granted_follows_from_how_its_rows_live():
    """A versioned row, or one stamped on every change, is updated: it must have UPDATE.
    Nothing but rows: no TRUNCATE, REFERENCES or TRIGGER, and SELECT everywhere."""
    for table in Base.metadata.sorted_tables:
        rights = set(runtime_rights_of(table))
        assert "SELECT" in rights and rights <= set(ROW_PRIVILEGES), table.name
        if "version" in table.columns or "updated_at" in table.columns:
            assert "UPDATE" in rights, table.name


def test_a_table_without_a_decision_is_refused_not_guessed():
    metadata = sa.MetaData()
    sa.Table(
        "decided",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        **runtime_rights("SELECT", "INSERT"),
    )
    sa.Table("scratch", metadata, sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(GrantError, match="scratch declare no runtime rights"):
        runtime_privileges(metadata)
    for wrong in (("INSERT",), ("SELECT", "TRUNCATE"), ("SELECT", "insert")):
        with pytest.raises(ValueError):
            runtime_rights(*wrong)
    # whatever order they are given in, they are listed in one
    assert runtime_rights("DELETE", "SELECT") == {"info": {"runtime_rights": ("SELECT", "DELETE")}}


@contextlib.contextmanager
def production_app(url: str, tmp_path, monkeypatch) -> Iterator[list[logging.LogRecord]]:
    """Build the app as production does (settings from the environment); yields what
    app.db_grants logged while it started."""
    for key, value in {
        "SECRET_KEY": "a-long-random-production-secret-4d1c9e",
        "AUDIT_KEY": "another-long-random-audit-chain-key-7f02b8",
        "DATABASE_URL": url,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "AUDIT_CHECKPOINT_PATH": str(tmp_path / "checkpoints.jsonl"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }.items():
        monkeypatch.setenv(f"SAFEPASSAGE_{key}", value)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("app.db_grants")
    logger.addHandler(handler)
    try:
        with built_app({"ENV": "production"}) as app:
            assert app.config["ENV"] == "production"
            yield records
    finally:
        logger.removeHandler(handler)


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_production_warns_when_the_service_runs_as_the_tables_owner(tmp_path, monkeypatch):
    with (
        runtime_setup() as setup,
        built_app(app_settings(setup, tmp_path)) as app,
    ):
        migrate_and_grant(app, setup)
        # a single-URL deployment: the service logs in as the owner
        with production_app(setup["owner_url"], tmp_path, monkeypatch) as records:
            pass
        warnings = [r.getMessage() for r in records if "SECURITY" in r.getMessage()]
        assert len(warnings) == 1, warnings
        owner = sa.engine.make_url(setup["owner_url"]).username
        assert f"as role {owner}, which owns" in warnings[0]
        assert "db grant-runtime" in warnings[0]
        assert str(len(Base.metadata.tables)) in warnings[0]
        # the separate runtime role: nothing to say
        with production_app(setup["runtime_url"], tmp_path, monkeypatch) as records:
            pass
        assert records == []
        assert warn_if_owner(setup["runtime_url"]) is False
        assert warn_if_owner(setup["owner_url"]) is True


def test_production_starts_when_the_database_is_down(tmp_path, monkeypatch):
    """The check is skipped, never fatal: the service answers 503 until the database is back."""
    down = "postgresql+psycopg://nobody:secret@127.0.0.1:9/safepassage?connect_timeout=2"
    with production_app(down, tmp_path, monkeypatch) as records:
        pass
    assert [r.getMessage() for r in records] == [
        "could not check the database role's rights at startup (OperationalError); skipped"
    ]
    assert warn_if_owner(f"sqlite:///{tmp_path / 'embedded.db'}") is False
