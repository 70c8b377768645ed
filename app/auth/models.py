from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import (
    Base,
    Versioned,
    bookkeeping,
    created_at,
    enum_check,
    not_personal,
    personal,
    runtime_rights,
    secret,
    updated_at,
    uuid_pk,
)

ROLES = ("field_worker", "coordinator", "admin")
FIELD_WORKER, COORDINATOR, ADMIN = ROLES


class Team(Base):
    __tablename__ = "teams"
    #: the service's rights: created, never renamed or removed
    __table_args__ = runtime_rights("SELECT", "INSERT")

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(sa.String(100), unique=True, info=not_personal())
    area: Mapped[str | None] = mapped_column(sa.String(200), info=not_personal())
    created_at: Mapped[created_at]


class User(Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", ROLES),
        #: A field worker sees only their team's households, so they must have a team.
        sa.CheckConstraint(
            "role <> 'field_worker' OR team_id IS NOT NULL", name="field_worker_has_team"
        ),
        #: the service's rights: edited and disabled, never removed
        runtime_rights("SELECT", "INSERT", "UPDATE"),
    )

    id: Mapped[uuid_pk]
    #: Stored lower-case; logins compare lower-case. A staff handle, not personal: the audit
    #: trail names it, so that an administrator can read who did what.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True, info=not_personal())
    full_name: Mapped[str] = mapped_column(sa.String(200), info=personal())
    role: Mapped[str] = mapped_column(sa.String(20), info=not_personal())
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    #: argon2id hash; the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(sa.String(255), info=secret())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    team: Mapped[Team | None] = relationship(lazy="raise_on_sql")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    #: the service's rights: used and revoked, never removed (they expire)
    __table_args__ = runtime_rights("SELECT", "INSERT", "UPDATE")

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: HMAC-SHA-256 of the bearer token under the secret key; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, info=secret())
    #: "Olena's tablet": may name someone.
    device_label: Mapped[str | None] = mapped_column(sa.String(100), info=personal())
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(info=bookkeeping())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(info=not_personal())

    user: Mapped[User] = relationship(lazy="raise_on_sql")
