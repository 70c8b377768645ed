"""The household lifecycle: why a household was closed, and status changes on the timeline

Revision ID: e5a7c3d91b40
Revises: 7d3e1a9c5b21
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a7c3d91b40"
down_revision: str | Sequence[str] | None = "7d3e1a9c5b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOSE_REASONS = (
    "evacuated_and_arrived",
    "left_by_other_means",
    "deceased",
    "moved_away",
    "duplicate",
)
KINDS_BEFORE = (
    "visit_logged",
    "consent_recorded",
    "consent_verified",
    "consent_rejected",
    "consent_revoked",
    "guardian_linked",
    "guardianship_changed",
)
KINDS_AFTER = (*KINDS_BEFORE, "status_changed")


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_reason", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("closed_note", sa.Text(), nullable=True))
    # nothing could close a household before this revision but a hand-edit of the table:
    # such a case gets the most neutral of the reasons, so the new rule holds for every row
    op.execute(
        "UPDATE households SET closed_reason = 'left_by_other_means' WHERE status = 'closed'"
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "closed_reason", f"closed_reason IN ({_listed(CLOSE_REASONS)})"
        )
        batch_op.create_check_constraint(
            "closed_with_a_reason", "(status = 'closed') = (closed_reason IS NOT NULL)"
        )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_timeline_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({_listed(KINDS_AFTER)})")


def downgrade() -> None:
    op.execute("DELETE FROM timeline_entries WHERE kind = 'status_changed'")
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_timeline_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({_listed(KINDS_BEFORE)})")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_households_closed_with_a_reason"), type_="check")
        batch_op.drop_constraint(op.f("ck_households_closed_reason"), type_="check")
        batch_op.drop_column("closed_note")
        batch_op.drop_column("closed_reason")
