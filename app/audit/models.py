from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, not_personal, runtime_rights

#: The hash before the first event.
GENESIS = "0" * 64


class AuditEvent(Base):
    """One thing someone did or saw, chained to the one before by its hash.

    ``hash`` is HMAC-SHA256, under the audit key (``AUDIT_KEY``, never in the database), of
    a canonical serialisation of every other column, including ``prev_hash`` and ``id``:
    editing, inserting, deleting or reordering an event breaks the chain, and someone
    without the key cannot mend it. Checkpoints kept elsewhere pin its head.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_entity_type_entity_id_id", "entity_type", "entity_id", "id"),
        #: "who looked at this child": every event naming a record, whatever its type
        sa.Index("ix_audit_events_entity_id_id", "entity_id", "id"),
        sa.Index("ix_audit_events_actor_id_id", "actor_id", "id"),
        sa.Index("ix_audit_events_occurred_at", "occurred_at"),
        #: the chain is ids 1..N: the service's role cannot insert an event outside it. On
        #: PostgreSQL only (migration 64633d7930ec); `audit verify` checks on both.
        sa.CheckConstraint("id > 0", name="positive_id").ddl_if(dialect="postgresql"),
        #: the service's rights: appended, never changed or removed (its triggers refuse it too)
        runtime_rights("SELECT", "INSERT"),
    )

    #: Assigned in chain order under the append lock (not by the database).
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    entity_type: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    entity_id: Mapped[str | None] = mapped_column(sa.String(128), info=not_personal())
    request_id: Mapped[str | None] = mapped_column(sa.String(64), info=not_personal())
    #: Codes, ids and changed fields; personal values are never written here (the columns
    #: marked personal in the models are named, never copied).
    details: Mapped[dict] = mapped_column(sa.JSON, info=not_personal())
    prev_hash: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True, info=not_personal())
