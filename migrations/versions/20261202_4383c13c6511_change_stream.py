"""One stream of changes: the timeline's new kinds and the per-team change feed

The household timeline is now derived from the stream of changes and tells more: members
and their status, housing proposals, evacuation membership and steps. The change feed is
new and starts empty: nothing is backfilled (the timeline's older history keeps the kinds
it had). A household keeps what moved it to its status (``status_cause``), which its timeline
entry reads; a household that has not changed status since stays without one.

Revision ID: 4383c13c6511
Revises: 5b8e2f4c1a07
Create Date: 2026-12-02 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "4383c13c6511"
down_revision: str | Sequence[str] | None = "5b8e2f4c1a07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "visit_logged",
    "consent_recorded",
    "consent_verified",
    "consent_rejected",
    "consent_revoked",
    "guardian_linked",
    "guardianship_changed",
    "status_changed",
)
KINDS_NEW = (
    "member_added",
    "member_status_changed",
    "proposal_made",
    "proposal_shown",
    "proposal_accepted",
    "proposal_declined",
    "proposal_withdrawn",
    "added_to_evacuation",
    "removed_from_evacuation",
    "evacuation_departed",
    "evacuation_arrived",
    "evacuation_cancelled",
)
STATUS_CAUSES = ("request", "visit", "arrival")


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _kinds(kinds: tuple[str, ...]) -> None:
    # batch mode: SQLite changes a CHECK constraint by copying the table
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_timeline_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({_listed(kinds)})")


def upgrade() -> None:
    _kinds((*KINDS_BEFORE, *KINDS_NEW))
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_cause", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(
            "status_cause", f"status_cause IN ({_listed(STATUS_CAUSES)})"
        )
    op.create_table(
        "change_feed",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("committed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete')", name=op.f("ck_change_feed_action")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change_feed")),
    )
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.create_index("ix_change_feed_team_id_seq", ["team_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change_feed", schema=None) as batch_op:
        batch_op.drop_index("ix_change_feed_team_id_seq")
    op.drop_table("change_feed")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_households_status_cause"), type_="check")
        batch_op.drop_column("status_cause")
    op.execute(f"DELETE FROM timeline_entries WHERE kind IN ({_listed(KINDS_NEW)})")
    _kinds(KINDS_BEFORE)
