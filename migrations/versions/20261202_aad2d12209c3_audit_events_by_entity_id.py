"""Audit events by entity id alone: "who looked at this child" finds list reads too

Revision ID: aad2d12209c3
Revises: e5a7c3d91b40
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "aad2d12209c3"
down_revision: str | Sequence[str] | None = "e5a7c3d91b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # not in batch mode: on SQLite a batch would copy the table and lose its triggers
    op.create_index("ix_audit_events_entity_id_id", "audit_events", ["entity_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_entity_id_id", table_name="audit_events")
