"""Migrations: upgrade to head, no drift between models and migrations, back down to base.

Runs on a database of its own (SQLite file, or a fresh PostgreSQL database when
TEST_DATABASE_URL is set), so it never touches the suite's database.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from app.cli import alembic_config
from app.models import Base
from tests.conftest import fresh_database


def test_upgrade_check_downgrade(tmp_path_factory):
    with fresh_database(tmp_path_factory) as url:
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        engine = sa.create_engine(url)
        try:
            tables = set(sa.inspect(engine).get_table_names())
            assert set(Base.metadata.tables) <= tables
            with engine.connect() as conn:
                current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            assert current == ScriptDirectory.from_config(cfg).get_current_head()

            command.check(cfg)  # raises when the models and the migrations differ

            command.downgrade(cfg, "base")
            sa.inspect(engine).clear_cache()
            assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        finally:
            engine.dispose()


@pytest.mark.commits
def test_constraints_follow_the_naming_convention(app):
    from app.extensions import db

    inspector = sa.inspect(db.engine)
    for table in Base.metadata.sorted_tables:
        for check in inspector.get_check_constraints(table.name):
            assert check["name"].startswith(f"ck_{table.name}_"), check
        for fk in inspector.get_foreign_keys(table.name):
            assert fk["name"].startswith(f"fk_{table.name}_"), fk
        for unique in inspector.get_unique_constraints(table.name):
            assert unique["name"].startswith(f"uq_{table.name}_"), unique
