"""Idempotent answers keep the records they showed, so a replay audits the same look

Revision ID: 5b8e2f4c1a07
Revises: 64633d7930ec
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8e2f4c1a07"
down_revision: str | Sequence[str] | None = "64633d7930ec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.add_column(sa.Column("seen", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_column("seen")
