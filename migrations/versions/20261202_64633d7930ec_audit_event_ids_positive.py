"""Audit event ids are positive (PostgreSQL): the chain is ids 1..N

The service's database role may INSERT audit events; with this CHECK it cannot insert one
outside the chain (id 0 or below). PostgreSQL only: on SQLite whoever can write the file
can rewrite its schema too, so a CHECK there adds nothing, and adding one would mean
copying the table (and re-creating its append-only triggers). ``audit verify`` reports
any event with an id below 1 on both databases.

The constraint is added NOT VALID and then validated, so the table is not locked for a
full scan under the strong lock. When rows below 1 exist already, it stays NOT VALID (new
rows are still checked) and a warning says so: those rows are evidence, not deleted here.

Revision ID: 64633d7930ec
Revises: aad2d12209c3
Create Date: 2026-12-02 13:00:00.000000
"""

import logging
from collections.abc import Sequence

from alembic import op

revision: str = "64633d7930ec"
down_revision: str | Sequence[str] | None = "aad2d12209c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

NAME = "ck_audit_events_positive_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {NAME} CHECK (id > 0) NOT VALID")
    outside = bind.exec_driver_sql("SELECT count(*) FROM audit_events WHERE id < 1").scalar()
    if outside:
        logger.warning(
            "audit_events holds %s event(s) with an id below 1, inserted outside the chain: "
            "%s left NOT VALID (run `flask --app wsgi audit verify`)",
            outside,
            NAME,
        )
        return
    op.execute(f"ALTER TABLE audit_events VALIDATE CONSTRAINT {NAME}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS {NAME}")
