"""Administrator commands: ``flask --app wsgi db|users|demo ...``.

Each command is one unit of work: it commits at the end, or changes nothing.
"""

from __future__ import annotations

import sys
import uuid

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import PROJECT_ROOT, db, declare_write_intent

db_cli = AppGroup("db", help="Database migrations (Alembic).")
users_cli = AppGroup("users", help="User accounts.")
demo_cli = AppGroup("demo", help="Fictional demo data.")
audit_cli = AppGroup("audit", help="The audit trail.")
retention_cli = AppGroup("retention", help="Keeping personal data no longer than needed.")


def alembic_config(database_url: str | None = None) -> Config:
    # stdout is looked up now, not at import: click's runner (and any caller) may redirect it
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"), stdout=sys.stdout)
    cfg.attributes["database_url"] = database_url or current_app.config["DATABASE_URL"]
    # the app has configured logging already; alembic.ini's logging is for the alembic CLI
    cfg.attributes["configure_logger"] = False
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    command.upgrade(alembic_config(), revision)


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    command.current(alembic_config(), verbose=False)


def run_unit_of_work(work):
    """Run ``work()`` in one transaction; a domain error is printed, nothing changes."""
    declare_write_intent(True)
    g.request_id = "cli-" + uuid.uuid4().hex[:16]
    try:
        result = work()
        db.session.commit()
        return result
    except DomainError as error:
        db.session.rollback()
        detail = error.detail or str(error)
        if error.errors:
            detail += " " + "; ".join(
                f"{field}: {' '.join(map(str, messages))}"
                for field, messages in error.errors.items()
            )
        raise click.ClickException(detail) from None
    except BaseException:
        db.session.rollback()
        raise


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

    password = sys.stdin.readline().rstrip("\r\n")

    def work():
        team = service.find_team(team_name) if team_name else None
        return service.create_user(
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

    count = run_unit_of_work(lambda: service.revoke_all_tokens(service.find_user(username)))
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
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit status 1 names the first broken event."""
    from app.audit.service import verify_chain

    result = verify_chain()
    db.session.rollback()
    if result.ok:
        click.echo(f"audit chain intact: {result.checked} event(s) checked")
        return
    click.echo(
        f"audit chain BROKEN at event {result.first_broken_id} "
        f"(after {result.checked - 1} good event(s)): an event was edited, deleted or reordered",
        err=True,
    )
    sys.exit(1)


@retention_cli.command("purge")
@click.option("--older-than-days", type=click.IntRange(min=1), required=True)
@click.option("--dry-run", is_flag=True, help="Only count what would be anonymised.")
def retention_purge(older_than_days: int, dry_run: bool) -> None:
    """Anonymise households closed, declined or evacuated more than N days ago."""
    from app.retention.service import purge

    report = run_unit_of_work(lambda: purge(older_than_days, dry_run=dry_run))
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
