"""The declarative base, the constraint naming convention and shared column types."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from app.errors import Conflict
from app.extensions import db

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


# --- what a column may hold about a person ----------------------------------------------
#
# Every column that can hold more than an id or a flag says, in its ``info``, whether
# what it holds is personal (tests/test_personal_marks.py fails on one that does not). The
# audit trail and retention read these marks; there is no other list. The marks are made by
# functions, each call a new dict: SQLAlchemy merges ``info`` dicts in place, and a shared
# one would spread a mark to every column that used it.

#: Written for a name that must keep a value when retention anonymises it.
ANONYMISED = "(anonymised)"
#: Written for other text that must keep a value when retention anonymises it.
REMOVED = "(removed)"


def personal(*, placeholder: str | None = None, kept_by_retention: bool = False) -> dict:
    """About a person: a name, contact, address, coordinates, birth date, free text.

    The audit trail names the column when it is set or changed, never its value. Retention
    blanks it: NULL, or ``placeholder`` where a value must remain (a NOT NULL column, or one
    a CHECK constraint requires); ``kept_by_retention`` keeps it, for a reason given where
    the column is declared.
    """
    info: dict = {"personal": True}
    if placeholder is not None:
        info["placeholder"] = placeholder
    if kept_by_retention:
        info["kept_by_retention"] = True
    return info


def not_personal() -> dict:
    """Codes, statuses, references, amounts and times: the audit trail records their values."""
    return {"personal": False}


def secret() -> dict:
    """A password or token hash: not about a person, but like a personal column, the audit
    trail names it when it is set or changed and never holds its value."""
    return {"personal": False, "secret": True}


def bookkeeping() -> dict:
    """When a row was written or used, its version: the audit trail does not follow it."""
    return {"personal": False, "audited": False}


def needs_decision(column: sa.Column) -> bool:
    """Whether a column could hold something about a person: anything but ids and flags.

    Numbers need a decision too (a count is not personal, an age or a phone number would
    be); only primary keys, whose values name rows, and versions go without one."""
    return not (column.primary_key or isinstance(column.type, sa.Uuid | sa.Boolean))


def is_personal(column: sa.Column) -> bool:
    """Marked personal; a column that needed a decision and has none counts as personal too,
    so a column someone forgot to mark is withheld from the audit trail, never written."""
    decision = column.info.get("personal")
    return needs_decision(column) if decision is None else decision is True


def personal_columns(model: type) -> list[sa.Column]:
    """The columns of ``model``'s table that hold something about a person."""
    return [column for column in model.__table__.columns if is_personal(column)]


# --- what the running service may do to a table's rows ----------------------------------
#
# Every table says, in its ``info``, which row privileges the service's database role holds
# on it; ``flask --app wsgi db grant-runtime`` (``app.db_grants``) grants exactly these, and
# refuses while a table has no decision (tests/test_database_roles.py fails on one too).

#: The row privileges a table may grant the service, in the order they are listed.
ROW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def runtime_rights(*privileges: str) -> dict:
    """What the service's database role may do to this table's rows: the (last) entry of a
    model's ``__table_args__``. It only sets the table's ``info``, not its schema.

    SELECT always. INSERT where the service adds rows. UPDATE only where it changes rows —
    retention's anonymising included — or locks them: on PostgreSQL a ``SELECT ... FOR
    UPDATE`` (or ``FOR NO KEY UPDATE``, ``FOR SHARE``, ``FOR KEY SHARE``) needs UPDATE too.
    DELETE only where it removes rows. What the service only appends to gets neither: who
    holds its credentials then cannot change or remove what it recorded.
    """
    unknown = sorted(set(privileges) - set(ROW_PRIVILEGES))
    if unknown or "SELECT" not in privileges:
        raise ValueError(f"runtime rights are SELECT and any of {ROW_PRIVILEGES}, not {unknown}")
    return {"info": {"runtime_rights": tuple(p for p in ROW_PRIVILEGES if p in privileges)}}


def runtime_rights_of(table: sa.Table) -> tuple[str, ...] | None:
    """The privileges ``runtime_rights`` declared on ``table``; None when it declares none."""
    return table.info.get("runtime_rights")


uuid_pk = Annotated[uuid.UUID, mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow, info=bookkeeping())]
updated_at = Annotated[
    dt.datetime, mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, info=bookkeeping())
]


def ensure_new_id(model: type, id: uuid.UUID | None) -> uuid.UUID:
    """The client's chosen id when it is free (409 when taken), or a new one."""
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
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, info=bookkeeping())

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}
