"""Extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

import contextvars
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy.orm import scoped_session, sessionmaker

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Whether the current unit of work will write. On SQLite a writing transaction begins with
#: BEGIN IMMEDIATE, so two workers cannot both pass the same check before either writes
#: (SQLite ignores SELECT ... FOR UPDATE).
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def declare_write_intent(writes: bool) -> None:
    _write_intent.set(writes)


def resolve_database_url(url: str) -> str:
    """Make a relative SQLite path relative to the project root and create its folder."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


#: Seconds to wait for PostgreSQL to accept a connection (`?connect_timeout=N` in the URL wins).
CONNECT_TIMEOUT = 5


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.lower()


def make_engine(url: str, **options) -> sa.Engine:
    url = resolve_database_url(url)
    # errors never carry the statement's values into logs: they may be people's names
    options.setdefault("hide_parameters", True)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # an unreachable server answers 503 within seconds, not after TCP's minutes
            options["connect_args"] = {
                "connect_timeout": CONNECT_TIMEOUT,
                **options.get("connect_args", {}),
            }
        return sa.create_engine(url, pool_pre_ping=True, **options)

    engine = sa.create_engine(url, **options)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # SQLite's lower() folds ASCII only; names here are often Cyrillic.
        dbapi_connection.create_function("lower", 1, _casefold, deterministic=True)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

    return engine


class Database:
    """The engine and the request-scoped session (one unit of work per request)."""

    def __init__(self) -> None:
        self.engine: sa.Engine | None = None
        self.session = scoped_session(sessionmaker(expire_on_commit=False))

    def init_app(self, app: Flask) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.session.remove()
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(self._remove)

    def _remove(self, _exc: BaseException | None) -> None:
        self.session.remove()


db = Database()
#: Holds the store (RATELIMIT_STORAGE_URI) that the login throttle counts in; the throttle
#: itself (app.auth.throttle) takes its slots before the password is checked, which
#: Flask-Limiter's decorators, counting after the response, cannot do.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
