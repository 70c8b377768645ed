"""The database role the running service logs in as, with exactly the rights it needs.

PostgreSQL only. Migrations run as the role that owns the schema
(``SAFEPASSAGE_MIGRATION_DATABASE_URL``); the service runs as another role
(``SAFEPASSAGE_DATABASE_URL``) that owns nothing and may only do to each table's rows what
the service does: what the table's model declares with ``app.db.runtime_rights`` (SELECT
and INSERT everywhere; UPDATE where the service changes or locks rows; DELETE only where it
removes them: idempotency records, evacuation members, photos and their files), plus CONNECT
on the database and USAGE on the schema (and on the tables' sequences, should any appear).
So it cannot change or remove audit events or timeline entries, remove a consent, visit,
person, household or guardianship, truncate anything, disable a trigger, alter or drop a
table, or create one. Someone who takes over the service takes these rights and no more.

``flask --app wsgi db grant-runtime ROLE`` applies this, and is run again after every
upgrade: until then a new table is the owner's alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from psycopg import sql

from app.db import runtime_rights_of
from app.models import Base
from app.unit_of_work import savepoint

#: A role name that needs no quoting surprises: lower-case letters, digits, underscores.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: The rights of a table the service only reads and appends to: its rows are never changed
#: or removed (for the audit trail the database refuses it with triggers too; the owner
#: could drop those, this role cannot).
APPENDER = ("SELECT", "INSERT")
#: Every table privilege PostgreSQL knows, and those that can also be granted per column.
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
#: Role attributes that would give the service more than rows.
POWERS = {
    "rolsuper": "SUPERUSER",
    "rolcreaterole": "CREATEROLE",
    "rolcreatedb": "CREATEDB",
    "rolreplication": "REPLICATION",
    "rolbypassrls": "BYPASSRLS",
}


log = logging.getLogger(__name__)


class GrantError(Exception):
    """The role cannot be made the runtime role as asked; the message says what to do."""


@dataclass
class Grants:
    """What ``grant_runtime`` did."""

    role: str
    database: str
    schema: str
    created: bool = False
    password_set: bool = False
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: list[str] = field(default_factory=list)


def runtime_privileges(metadata: sa.MetaData = Base.metadata) -> dict[str, tuple[str, ...]]:
    """What the service may do to each of its tables, as each model declares it
    (``app.db.runtime_rights``). A table without a decision is refused, never guessed."""
    undecided = [table.name for table in metadata.sorted_tables if not runtime_rights_of(table)]
    if undecided:
        raise GrantError(
            f"table(s) {', '.join(undecided)} declare no runtime rights: add "
            "runtime_rights(...) to the model's __table_args__ (app/db.py says how to choose)"
        )
    return {table.name: runtime_rights_of(table) for table in metadata.sorted_tables}


def grant_runtime(connection: sa.Connection, role: str, password: str | None = None) -> Grants:
    """Make ``role`` the service's role, in the caller's transaction (commit it after).

    Creates the role (LOGIN, no other attribute) when it is missing; sets its password when
    one is given; revokes whatever it was granted in this database, grants the runtime
    rights, then checks the rights the role really has (through PUBLIC and memberships
    too) and raises GrantError when they differ. Running it again changes nothing.
    """
    database, schema, wanted = _target(connection, role)
    grants = Grants(role=role, database=database, schema=schema)
    q_role = connection.dialect.identifier_preparer.quote_identifier(role)
    grants.created = _ensure_role(connection, role, q_role)
    if password is not None:
        _set_password(connection, role, q_role, password)
        grants.password_set = True
    _grant_exactly(connection, grants, wanted)
    _verify(connection, grants)
    return grants


def _target(connection: sa.Connection, role: str) -> tuple[str, str, dict[str, tuple[str, ...]]]:
    """The database and schema to grant in, and the rights wanted there; GrantError for a
    role that cannot be the service's, or a schema that lacks some of its tables."""
    if not ROLE_NAME.fullmatch(role):
        raise GrantError(
            f"{role!r} is not a role name this command uses: lower-case letters, digits and "
            "underscores, at most 63, not starting with a digit"
        )
    me, database, schema = connection.execute(
        sa.text("SELECT current_user, current_database(), current_schema()")
    ).one()
    if role == me:
        raise GrantError(
            f"{role} is the role running this command (the owner); the service needs a role "
            "of its own"
        )
    wanted = runtime_privileges()
    present = set(
        connection.scalars(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
            {"schema": schema},
        )
    )
    missing = sorted(set(wanted) - present)
    if missing:
        raise GrantError(
            f"schema {schema} lacks table(s) {', '.join(missing)}: run `db upgrade` first"
        )
    return database, schema, wanted


def _grant_exactly(
    connection: sa.Connection, grants: Grants, wanted: dict[str, tuple[str, ...]]
) -> None:
    """Start from nothing the role was given in this database, then grant exactly
    ``wanted``, and USAGE on the tables' sequences; ``grants`` records what was granted."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    q_role, q_db, q_schema = quote(grants.role), quote(grants.database), quote(grants.schema)
    for statement in (
        f"REVOKE ALL ON DATABASE {q_db} FROM {q_role}",
        f"REVOKE ALL ON SCHEMA {q_schema} FROM {q_role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {q_schema} FROM {q_role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {q_schema} FROM {q_role}",
        f"REVOKE ALL ON ALL ROUTINES IN SCHEMA {q_schema} FROM {q_role}",
        f"GRANT CONNECT ON DATABASE {q_db} TO {q_role}",
        f"GRANT USAGE ON SCHEMA {q_schema} TO {q_role}",
    ):
        connection.exec_driver_sql(statement)
    for table, privileges in wanted.items():
        connection.exec_driver_sql(
            f"GRANT {', '.join(privileges)} ON TABLE {q_schema}.{quote(table)} TO {q_role}"
        )
    grants.tables = wanted
    grants.sequences = _sequences_of(connection, grants.schema, list(wanted))
    for sequence in grants.sequences:
        connection.exec_driver_sql(
            f"GRANT USAGE ON SEQUENCE {q_schema}.{quote(sequence)} TO {q_role}"
        )


def _ensure_role(connection: sa.Connection, role: str, q_role: str) -> bool:
    """Create the role if missing (True), or check an existing one is fit to be it."""
    row = connection.execute(
        sa.text(f"SELECT rolcanlogin, {', '.join(POWERS)} FROM pg_roles WHERE rolname = :role"),
        {"role": role},
    ).first()
    if row is None:
        try:
            with savepoint(connection):
                connection.exec_driver_sql(
                    f"CREATE ROLE {q_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION NOBYPASSRLS NOINHERIT"
                )
        except sa.exc.ProgrammingError:
            raise GrantError(
                f"cannot create role {role}: this role lacks CREATEROLE. Create it as a "
                f"superuser (CREATE ROLE {role} LOGIN;) and run this again"
            ) from None
        return True
    powers = [name for column, name in POWERS.items() if getattr(row, column)]
    if powers:
        raise GrantError(
            f"role {role} has {', '.join(powers)}: the service's role must have none "
            f"(ALTER ROLE {role} NO{' NO'.join(powers)};)"
        )
    if not row.rolcanlogin:
        raise GrantError(f"role {role} cannot log in: ALTER ROLE {role} LOGIN;")
    member_of = list(
        connection.scalars(
            sa.text(
                "SELECT g.rolname FROM pg_auth_members m "
                "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
                "WHERE r.rolname = :role ORDER BY 1"
            ),
            {"role": role},
        )
    )
    if member_of:
        raise GrantError(
            f"role {role} is a member of {', '.join(member_of)} and would have their rights "
            f"too: REVOKE {', '.join(member_of)} FROM {role};"
        )
    owned = connection.scalar(
        sa.text(
            "SELECT count(*) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid "
            "WHERE r.rolname = :role AND d.deptype = 'o' AND d.dbid IN "
            "(0, (SELECT oid FROM pg_database WHERE datname = current_database()))"
        ),
        {"role": role},
    )
    if owned:
        raise GrantError(
            f"role {role} owns {owned} object(s) here (an owner can alter, drop and disable "
            f"triggers): REASSIGN OWNED BY {role} TO <owner>; then run this again"
        )
    return False


def _set_password(connection: sa.Connection, role: str, q_role: str, password: str) -> None:
    """Send only a SCRAM verifier, made here by libpq: the password itself never reaches
    the server, nor its statement log."""
    if not password:
        raise GrantError("the password is empty")
    driver = connection.connection.driver_connection
    verifier = driver.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    literal = sql.Literal(verifier.decode("ascii")).as_string(driver)
    try:
        with savepoint(connection):
            connection.exec_driver_sql(f"ALTER ROLE {q_role} PASSWORD {literal}")
    except sa.exc.ProgrammingError:
        raise GrantError(
            f"cannot set the password of {role}: this role lacks CREATEROLE. Set it as a "
            f"superuser (\\password {role} in psql), and run this without --password-stdin"
        ) from None


def _sequences_of(connection: sa.Connection, schema: str, tables: list[str]) -> list[str]:
    """Sequences behind the tables' serial or identity columns."""
    return list(
        connection.scalars(
            sa.text(
                "SELECT s.relname FROM pg_class s "
                "JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
                "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                "JOIN pg_class t ON t.oid = d.refobjid "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE s.relkind = 'S' AND n.nspname = :schema AND t.relname = ANY(:tables) "
                "ORDER BY 1"
            ),
            {"schema": schema, "tables": tables},
        )
    )


def _verify(connection: sa.Connection, grants: Grants) -> None:
    """Compare the rights the role really has with the wanted ones: a grant to PUBLIC, or
    one this role could not revoke (another grantor's), shows up here."""
    params = {"role": grants.role, "schema": grants.schema}
    wanted = {(t, p) for t, privileges in grants.tables.items() for p in privileges}
    wanted |= {(s, "USAGE") for s in grants.sequences}
    has = _rights_held(connection, params)
    problems = [f"has {p} on {t}" for t, p in sorted(has - wanted)]
    problems += [f"lacks {p} on {t}" for t, p in sorted(wanted - has)]
    problems += _database_problems(connection, grants, params)
    if problems:
        raise GrantError(
            f"role {grants.role} {'; '.join(problems)}. Was the command run as the owner of the "
            "tables? A grant to PUBLIC or by another role must be revoked by whoever made it"
        )


def _rights_held(connection: sa.Connection, params: dict[str, str]) -> set[tuple[str, str]]:
    """(relation, privilege) for every right the role holds in the schema, however it came
    by it: its own grants, PUBLIC's, its memberships'."""
    has = set()
    for privilege in TABLE_PRIVILEGES:
        check = (
            "has_any_column_privilege"
            if privilege in COLUMN_PRIVILEGES
            else ("has_table_privilege")
        )
        has |= {
            (name, privilege)
            for name in connection.scalars(
                sa.text(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema "
                    "AND CASE WHEN c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                    f"THEN {check}(:role, c.oid, :privilege) END"
                ),
                {**params, "privilege": privilege},
            )
        }
    for privilege in SEQUENCE_PRIVILEGES:
        has |= {
            (name, privilege)
            for name in connection.scalars(
                sa.text(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND CASE WHEN c.relkind = 'S' "
                    "THEN has_sequence_privilege(:role, c.oid, :privilege) END"
                ),
                {**params, "privilege": privilege},
            )
        }
    return has


def _database_problems(
    connection: sa.Connection, grants: Grants, params: dict[str, str]
) -> list[str]:
    """What is wrong with the role's rights on the schema and the database themselves."""
    problems = []
    schema_create, schema_usage, db_create, db_connect = connection.execute(
        sa.text(
            "SELECT has_schema_privilege(:role, :schema, 'CREATE'), "
            "has_schema_privilege(:role, :schema, 'USAGE'), "
            "has_database_privilege(:role, current_database(), 'CREATE'), "
            "has_database_privilege(:role, current_database(), 'CONNECT')"
        ),
        params,
    ).one()
    if schema_create:
        problems.append(
            f"may create objects in schema {grants.schema} (REVOKE CREATE ON SCHEMA "
            f"{grants.schema} FROM PUBLIC;)"
        )
    if db_create:
        problems.append(f"may create schemas in database {grants.database}")
    if not schema_usage:
        problems.append(f"lacks USAGE on schema {grants.schema}")
    if not db_connect:
        problems.append(f"lacks CONNECT on database {grants.database}")
    return problems


def warn_if_owner(url: str) -> bool:
    """At production startup: warn, loudly, when the service logs in to PostgreSQL as a role
    that owns its tables (a single-URL deployment), is a member of their owner, or is a
    superuser; True when it warned. Whoever takes over such a service can alter or drop the
    tables and switch off the audit trail's triggers.

    Never refuses to start, and skips the check when the database cannot be reached: the
    service answers 503 until it can. Uses a connection of its own, closed at once, so no
    pooled connection outlives a fork of the process.
    """
    from app.extensions import make_engine

    if sa.engine.make_url(url).get_backend_name() != "postgresql":
        return False
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            role, owned = connection.execute(
                sa.text(
                    "SELECT current_user, (SELECT count(*) FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tablename = ANY(:tables) "
                    "AND pg_has_role(current_user, tableowner, 'MEMBER'))"
                ),
                {"tables": list(Base.metadata.tables)},
            ).one()
    except sa.exc.SQLAlchemyError as error:
        log.warning(
            "could not check the database role's rights at startup (%s); skipped",
            type(error).__name__,
        )
        return False
    finally:
        engine.dispose()
    if not owned:
        return False
    log.warning(
        "SECURITY: the service connects to PostgreSQL as role %s, which owns (or may act as "
        "the owner of) %d of its tables: whoever takes over the service could alter or drop "
        "them and disable the audit trail's triggers. Run `flask --app wsgi db grant-runtime "
        "ROLE` as the owner, set SAFEPASSAGE_DATABASE_URL to that separate role and "
        "SAFEPASSAGE_MIGRATION_DATABASE_URL to the owner's (README: Database roles).",
        role,
        owned,
    )
    return True
