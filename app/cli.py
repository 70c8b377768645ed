"""Administrator commands: ``flask --app wsgi db|users|demo ...``.

Each command is one unit of work (app/unit_of_work.py): it commits at the end, or changes
nothing. The schema owner's commands (grant-runtime, reseal-legacy) run one transaction on
the migration role's engine (``unit_of_work.transaction_on``).
"""

from __future__ import annotations

import sys
import uuid

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from flask.cli import AppGroup

from app import unit_of_work
from app.errors import DomainError
from app.extensions import PROJECT_ROOT, declare_write_intent, make_engine

db_cli = AppGroup("db", help="Database migrations (Alembic).")
users_cli = AppGroup("users", help="User accounts.")
demo_cli = AppGroup("demo", help="Fictional demo data.")
audit_cli = AppGroup("audit", help="The audit trail.")
retention_cli = AppGroup("retention", help="Keeping personal data no longer than needed.")


def migration_url() -> str:
    """The owner's URL for schema changes: MIGRATION_DATABASE_URL, else DATABASE_URL."""
    return current_app.config.get("MIGRATION_DATABASE_URL") or current_app.config["DATABASE_URL"]


def alembic_config(database_url: str | None = None) -> Config:
    # stdout is looked up now, not at import: click's runner (and any caller) may redirect it
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"), stdout=sys.stdout)
    cfg.attributes["database_url"] = database_url or migration_url()
    # the app has configured logging already; alembic.ini's logging is for the alembic CLI
    cfg.attributes["configure_logger"] = False
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head), as the migration role."""
    command.upgrade(alembic_config(), revision)
    url = current_app.config.get("MIGRATION_DATABASE_URL")
    if url and sa.engine.make_url(url).get_backend_name() == "postgresql":
        click.echo("Now run `flask --app wsgi db grant-runtime ROLE` for the service's role.")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    command.current(alembic_config(), verbose=False)


@db_cli.command("grant-runtime")
@click.argument("role")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Set the role's password, read from standard input (else it is left as it is).",
)
def db_grant_runtime(role: str, password_stdin: bool) -> None:
    """Give ROLE exactly the rights the running service needs (PostgreSQL), creating it
    if missing. Runs as the migration role; run it again after every upgrade."""
    from app.db_grants import APPENDER, GrantError, grant_runtime

    engine = make_engine(migration_url())
    try:
        if engine.dialect.name != "postgresql":
            click.echo(
                f"{engine.dialect.name} has no database roles: nothing to grant "
                "(the service's access is that of its process to the database file)."
            )
            return
        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
        try:
            with unit_of_work.transaction_on(engine) as connection:
                grants = grant_runtime(connection, role, password)
        except GrantError as error:
            raise click.ClickException(str(error)) from None
        except sa.exc.OperationalError as error:
            raise click.ClickException(f"cannot reach the database: {error.orig}") from None
    finally:
        engine.dispose()
    click.echo(f"role {role}: {'created' if grants.created else 'exists'}", nl=False)
    click.echo("; password set" if grants.password_set else "; password unchanged")
    click.echo(f"  CONNECT on database {grants.database}, USAGE on schema {grants.schema}")
    for table, privileges in grants.tables.items():
        mark = "  (append-only)" if privileges == APPENDER else ""
        click.echo(f"  {', '.join(privileges)} on {table}{mark}")
    for sequence in grants.sequences:
        click.echo(f"  USAGE on sequence {sequence}")
    if grants.created and not grants.password_set:
        click.echo(
            f"No password set: run again with --password-stdin, or log {role} in another way "
            "(peer, certificate)."
        )


def run_unit_of_work(work):
    """Run ``work()`` in one transaction (``unit_of_work.run``); a domain error is printed,
    nothing changes."""
    declare_write_intent(True)
    g.request_id = "cli-" + uuid.uuid4().hex[:16]
    try:
        return unit_of_work.run(work)
    except DomainError as error:
        detail = error.detail or str(error)
        if error.errors:
            detail += " " + "; ".join(
                f"{field}: {' '.join(map(str, messages))}"
                for field, messages in error.errors.items()
            )
        raise click.ClickException(detail) from None


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["field_worker", "coordinator", "admin"]))
@click.option("--team", "team_name", help="Team name or id (required for field workers).")
@click.option("--full-name", help="The person's full name (default: the username).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def users_create(
    username: str, role: str, team_name: str | None, full_name: str | None, password_stdin: bool
) -> None:
    """Create a user account; the password is read from standard input."""
    from app.auth import service
    from app.auth.permissions import OPERATOR

    password = sys.stdin.readline().rstrip("\r\n")

    def work():
        team = service.find_team(team_name) if team_name else None
        return service.create_user(
            OPERATOR,
            username=username,
            role=role,
            password=password,
            full_name=full_name,
            team_id=team.id if team else None,
        )

    user = run_unit_of_work(work)
    click.echo(f"created {user.role} {user.username} ({user.id})")


@users_cli.command("revoke-tokens")
@click.argument("username")
def users_revoke_tokens(username: str) -> None:
    """Revoke every token of a user at once (a lost or stolen device)."""
    from app.auth import service
    from app.auth.permissions import OPERATOR

    count = run_unit_of_work(
        lambda: service.revoke_all_tokens(OPERATOR, service.find_user(username))
    )
    click.echo(f"revoked {count} token(s) of {username}")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Load fictional demo data once (teams, a user of each role, households)."""
    from app.demo import DEMO_PASSWORDS, seed

    if current_app.config["ENV"] == "production":
        raise click.ClickException("demo data is never loaded into production")
    created = run_unit_of_work(seed)
    if created:
        click.echo("Demo data loaded. Log in as:")
    else:
        click.echo("Demo data already present. Log in as:")
    for username, (role, password) in DEMO_PASSWORDS.items():
        click.echo(f"  {username:<10} {role:<13} password: {password}")


@audit_cli.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A checkpoint, or a file of them (JSON lines), kept outside the database; repeatable.",
)
def audit_verify(checkpoint_files: tuple[str, ...]) -> None:
    """Check the audit trail's keyed hash chain, and against checkpoints of its head.

    Every checkpoint given (and those in AUDIT_CHECKPOINT_PATH) is checked. Exit status 1
    names the first event that is edited, inserted, moved or missing.
    """
    from app.audit.chain import verify_trail

    result = verify_trail(checkpoint_files)
    unit_of_work.abandon()  # it only read
    if result.ok:
        against = f" against {result.checkpoints} checkpoint(s)" if result.checkpoints else ""
        click.echo(f"audit chain intact: {result.checked} event(s) checked{against}")
        return
    where = f" at event {result.first_broken_id}" if result.first_broken_id is not None else ""
    click.echo(f"audit chain BROKEN{where}: {result.problem}", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Earlier checkpoints to verify the chain against first (as `audit verify`); repeatable.",
)
def audit_checkpoint(checkpoint_files: tuple[str, ...]) -> None:
    """Print a checkpoint of the chain's head (one JSON line) to keep outside the database.

    The whole chain is verified first, against AUDIT_CHECKPOINT_PATH and every --checkpoint
    given: a chain that is broken, or cut back since an earlier checkpoint, gets none.
    """
    from app.audit.chain import verify_trail
    from app.audit.checkpoints import audit_key, make_checkpoint

    result = verify_trail(checkpoint_files)
    unit_of_work.abandon()  # it only read
    if not result.ok:
        where = f" at event {result.first_broken_id}" if result.first_broken_id is not None else ""
        click.echo(f"no checkpoint taken: audit chain BROKEN{where}: {result.problem}", err=True)
        sys.exit(1)
    click.echo(make_checkpoint(audit_key(), result.head_id, result.head_hash).as_json())


@audit_cli.command("reseal-legacy")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="A checkpoint file kept elsewhere: if it holds any, the trail is keyed; refuse.",
)
def audit_reseal_legacy(checkpoint_files: tuple[str, ...]) -> None:
    """Once, for a trail from before the keyed chain: seal its plain SHA-256 chain with the
    audit key. Run as the schema owner, before the upgraded service writes its first event.

    Refuses a trail that has any keyed event or any checkpoint (AUDIT_CHECKPOINT_PATH and
    every --checkpoint), and seals only the unbroken plain run from event 1. Prints a
    checkpoint of the sealed chain (and appends it to AUDIT_CHECKPOINT_PATH when set).
    """
    from app.audit.chain import verify_chain
    from app.audit.checkpoints import append_line, make_checkpoint
    from app.audit.reseal import (
        ResealRefused,
        is_development_key,
        refuse_if_checkpoints,
        reseal_legacy,
    )

    config = current_app.config
    if is_development_key(config["AUDIT_KEY"]) and config["ENV"] not in ("development", "testing"):
        raise click.ClickException(
            "refused: the audit key is the public development key; set SAFEPASSAGE_AUDIT_KEY"
        )
    key = config["AUDIT_KEY"].encode()
    path = config["AUDIT_CHECKPOINT_PATH"]
    engine = make_engine(migration_url())
    try:
        try:
            refuse_if_checkpoints([p for p in (path, *checkpoint_files) if p])
            declare_write_intent(True)
            with unit_of_work.transaction_on(engine) as connection:
                done = reseal_legacy(connection, key)
        except ResealRefused as refusal:
            raise click.ClickException(f"refused: {refusal}") from None
        finally:
            declare_write_intent(False)
        with engine.connect() as connection:
            result = verify_chain(key=key, connection=connection)
    finally:
        engine.dispose()
    click.echo(f"audit chain: {done.sealed} event(s) sealed with the audit key", err=True)
    if result.ok:
        checkpoint = make_checkpoint(key, result.head_id, result.head_hash)
    else:
        # pin what was sealed; the rest was left as found
        checkpoint = make_checkpoint(key, done.sealed, done.run_hash) if done.sealed else None
    if checkpoint is not None:
        line = checkpoint.as_json()
        if path:
            append_line(path, line)
        click.echo(line)
    if not result.ok:
        where = f" at event {result.first_broken_id}" if result.first_broken_id is not None else ""
        click.echo(
            f"audit chain BROKEN{where}: {result.problem}; nothing from there on was sealed",
            err=True,
        )
        sys.exit(1)


@retention_cli.command("purge")
@click.option("--older-than-days", type=click.IntRange(min=1), required=True)
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised.")
def retention_purge(older_than_days: int, dry_run: bool) -> None:
    """Anonymise households closed more than N days ago."""
    from app.auth.permissions import OPERATOR
    from app.retention.service import purge

    report = run_unit_of_work(lambda: purge(OPERATOR, older_than_days, dry_run=dry_run))
    verb = "would anonymise" if dry_run else "anonymised"
    click.echo(
        f"{verb} {report.households} household(s) and {report.persons} person(s); "
        f"{'would remove' if dry_run else 'removed'} {report.photos} photo(s) of unused offers "
        f"and {report.idempotency_keys} expired idempotency record(s)"
    )
    for household_id in report.household_ids:
        click.echo(f"  {household_id}")


def register_commands(app: Flask) -> None:
    app.cli.add_command(retention_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
