"""Alembic environment: the URL comes from the app's settings, or from the caller."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import config as settings
from app.extensions import make_engine
from app.models import Base

alembic_config = context.config
if alembic_config.config_file_name and alembic_config.attributes.get("configure_logger", True):
    fileConfig(alembic_config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    """The caller's URL (``flask db ...`` passes it), else the settings': the migration
    role's (SAFEPASSAGE_MIGRATION_DATABASE_URL) when set, else the service's."""
    if url := alembic_config.attributes.get("database_url"):
        return url
    loaded = settings.load()
    return loaded["MIGRATION_DATABASE_URL"] or loaded["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = alembic_config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
