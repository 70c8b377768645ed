from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, enum_check, not_personal, personal, runtime_rights, uuid_pk

STATES = ("in_flight", "completed")


class IdempotencyKey(Base):
    """The first answer to a creating request, replayed when the client retries it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key"),
        enum_check("state", STATES),
        sa.CheckConstraint(
            "state = 'in_flight' OR (status_code IS NOT NULL AND response_body IS NOT NULL)",
            name="completed_has_response",
        ),
        #: the service's rights: completed, and deleted when expired or failed
        runtime_rights("SELECT", "INSERT", "UPDATE", "DELETE"),
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255), info=not_personal())
    method: Mapped[str] = mapped_column(sa.String(10), info=not_personal())
    path: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    state: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: When the request holding the key started; after a while it is taken to have died.
    locked_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    status_code: Mapped[int | None] = mapped_column(info=not_personal())
    #: The first answer, as sent: it may show anything a response shows (deleted on expiry).
    response_body: Mapped[str | None] = mapped_column(sa.Text, info=personal())
    response_headers: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    #: The records the first answer showed, as ``[entity_type, id]`` pairs (ids only): a
    #: replay shows them again, and records the same look in the audit trail.
    seen: Mapped[list | None] = mapped_column(sa.JSON, info=not_personal())
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True, info=not_personal())
