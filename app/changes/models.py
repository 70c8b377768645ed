from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, enum_check, not_personal, runtime_rights

ACTIONS = ("create", "update", "delete")


class ChangeFeedEntry(Base):
    """One committed change of a team's case data, for the team's devices to sync from.

    ``seq`` is assigned under the audit chain's append lock, which is held to the end of
    the transaction: seq order is commit order, and a reader of "seq > N" never skips a
    change committed later with a smaller seq. Names only, never values: what a device
    needs to know it must fetch again. No foreign keys: the row is written under that
    global lock, and a key check would wait on the rows it names.
    """

    __tablename__ = "change_feed"
    __table_args__ = (
        enum_check("action", ACTIONS),
        sa.Index("ix_change_feed_team_id_seq", "team_id", "seq"),
        #: the service's rights: appended, never changed or removed
        runtime_rights("SELECT", "INSERT"),
    )

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    team_id: Mapped[uuid.UUID]
    household_id: Mapped[uuid.UUID | None]
    person_id: Mapped[uuid.UUID | None]
    #: The table of the row that changed ("persons", "consent_records", ...).
    entity: Mapped[str] = mapped_column(sa.String(32), info=not_personal())
    #: Its primary key as text (a composite key's parts joined with ":").
    entity_id: Mapped[str] = mapped_column(sa.String(80), info=not_personal())
    action: Mapped[str] = mapped_column(sa.String(8), info=not_personal())
    #: The names of the columns set or changed, personal ones included; never their values.
    fields: Mapped[list[str]] = mapped_column(sa.JSON, default=list, info=not_personal())
    #: When its transaction took the append lock, just before it committed.
    committed_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
