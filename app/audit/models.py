from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

#: The hash before the first event.
GENESIS = "0" * 64


class AuditEvent(Base):
    """One thing someone did or saw, chained to the one before by its hash.

    ``hash`` is SHA-256 over a canonical serialisation of every other column, including
    ``prev_hash`` and ``id``: editing, deleting or reordering an event breaks the chain.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_entity_type_entity_id_id", "entity_type", "entity_id", "id"),
        sa.Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        sa.Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    #: Assigned in chain order under the append lock (not by the database).
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime]
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(sa.String(64))
    entity_type: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str | None] = mapped_column(sa.String(128))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: Codes, ids and changed fields; personal values are never written here.
    details: Mapped[dict] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
