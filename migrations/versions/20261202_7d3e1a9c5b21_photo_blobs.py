"""Photo files as rows of their own (photo_blobs), locked by uploads and removals alike

Revision ID: 7d3e1a9c5b21
Revises: 4fd6e5098615
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "7d3e1a9c5b21"
down_revision: str | Sequence[str] | None = "4fd6e5098615"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')",
            name=op.f("ck_photo_blobs_content_type"),
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_photo_blobs")),
    )
    # every file photos use today gets its row (the same hash is the same bytes and type)
    op.execute(
        "INSERT INTO photo_blobs (sha256, content_type, created_at) "
        "SELECT sha256, MIN(content_type), MIN(created_at) FROM housing_photos GROUP BY sha256"
    )
    with op.batch_alter_table("housing_photos", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_housing_photos_sha256_photo_blobs"),
            "photo_blobs",
            ["sha256"],
            ["sha256"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("housing_photos", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_housing_photos_sha256_photo_blobs"), type_="foreignkey"
        )
    op.drop_table("photo_blobs")
