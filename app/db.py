"""The declarative base, the constraint naming convention and shared column types."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        # TypeDecorator does not delegate this to impl; cursor decoding relies on it.
        return dt.datetime

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def enum_check(column: str, values: tuple[str, ...], name: str | None = None) -> sa.CheckConstraint:
    """A named CHECK constraint that holds ``column`` to one of ``values``."""
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name or column)


uuid_pk = Annotated[uuid.UUID, mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow)]
updated_at = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)]


def ensure_new_id(model: type, id: uuid.UUID | None) -> uuid.UUID:
    """The client's chosen id when it is free (409 when taken), or a new one."""
    from app.errors import Conflict
    from app.extensions import db

    if id is None:
        return uuid.uuid4()
    if db.session.get(model, id) is not None:
        raise Conflict(f"Something with id {id} exists already.", code="duplicate_id")
    return id


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, uuid.UUID: sa.Uuid}


class Versioned:
    """Optimistic concurrency: every UPDATE checks and bumps ``version`` (ETag / If-Match)."""

    #: Incremented by SQLAlchemy on every UPDATE; a stale writer gets StaleDataError.
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}
