"""The unit of work: the one place that begins, commits and rolls back.

A request (``Resource.dispatch_request``, app/web/resource.py) and a command
(``run_unit_of_work``, app/cli.py) each run their work through ``run``: the session begins
by itself at the first statement, ``run`` commits once at the end, or rolls back on any
exception and re-raises. Services flush, never commit. An error handler ends a failed
request's work with ``abandon``.

One documented exception, ``own_transaction``: a short transaction of its own, outside the
request's, for what must hold whatever becomes of the request's work —

* the idempotency key's in-flight marker (its claim before the work, its release after a
  failed request: app/idempotency/service.py),
* the audit event of a refused request, written after the request rolled back
  (app/error_handlers.py ``audit_refusal``),
* the release of a photo file nobody uses any more, after the commit that dropped its last
  use (app/housing/photos.py ``release_blob``).

It is a new ``Session`` on the request session's bind, joining it with
``join_transaction_mode="create_savepoint"``. In production that bind is the engine, so it
is a transaction of its own on another connection. When tests bind ``db.session`` to one
connection (each test rolled back at its end), it is a savepoint on that connection. On
SQLite, when the request's transaction is open, it already holds the one writer's lock
(``BEGIN IMMEDIATE``) that a second connection would wait for: the own transaction is then
a savepoint in it, kept only if the request commits. That happens to one use, the claim of
an idempotency key, which then stands or falls with its request's work; and no concurrent
request sees it in flight meanwhile: it waits for the writer's lock. Code inside an own
transaction must not use the request's session (that would begin its transaction again).

``savepoint`` gives locks back: the one use is retaking a guardian's and their children's
locks when a child was linked meanwhile (app/households/persons.py).

Commit-time work, the hooks: every ``Session`` event the application listens to is in the
lists below, run in the order listed. Each list is run by one SQLAlchemy listener of its
event (``LISTENERS``), registered once, when this module is imported (``app.web.resource``
imports it, and ``create_app`` imports that). Other modules export plain functions; none
listens itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from app.audit import checkpoints
from app.audit import service as audit
from app.changes import feed, stream
from app.consents import eligibility
from app.extensions import db
from app.timeline import service as timeline

T = TypeVar("T")

# --- after the commit --------------------------------------------------------------------


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction has committed (never on rollback):
    for effects outside the database, such as removing a file nothing refers to any more."""
    db.session().info.setdefault("on_commit", []).append(callback)


def run_on_commit(session: Session) -> None:
    for callback in session.info.pop("on_commit", []):
        callback()


def forget_on_commit(session: Session, _previous: SessionTransaction) -> None:
    session.info.pop("on_commit", None)


# --- the hooks, in order -----------------------------------------------------------------

#: Before each flush: ``fn(session, flush_context, instances)``.
BEFORE_FLUSH: list[Callable[..., None]] = [
    stream.capture,  # the writes, into the stream of changes (app/changes/stream.py)
]

#: Before the commit (not a savepoint's), after the last flush: ``fn(session)``. Each
#: reads the unit of work's changes (``stream.consumer``: ``stream.collect``, which flushes).
BEFORE_COMMIT: list[Callable[..., None]] = [
    eligibility.store_answers,  # the rule's stored answer for the persons touched
    timeline.record_changes,  # the households' timelines
    audit.append_to_chain,  # the chain, under the append lock held to the commit
    feed.append,  # last: the teams' change feed, numbered under that lock
]

#: After the commit: ``fn(session)``; effects outside the database only.
AFTER_COMMIT: list[Callable[..., None]] = [
    stream.forget,  # first: the committed unit of work's changes are done with
    checkpoints.write_if_due,  # a checkpoint of the chain's head, when one is due
    run_on_commit,  # ``on_commit`` callbacks: release a photo file nobody uses
]

#: After the unit of work rolled back (a savepoint's rollback is not one):
#: ``fn(session, previous_transaction)``: forget what the hooks above kept for the commit.
AFTER_ROLLBACK: list[Callable[..., None]] = [
    stream.forget,
    audit.forget,
    checkpoints.forget,
    forget_on_commit,
]


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    for hook in BEFORE_FLUSH:
        hook(session, flush_context, instances)


def _before_commit(session: Session) -> None:
    for hook in BEFORE_COMMIT:
        hook(session)


def _after_commit(session: Session) -> None:
    for hook in AFTER_COMMIT:
        hook(session)


def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is not None:  # a savepoint: the unit of work goes on
        return
    for hook in AFTER_ROLLBACK:
        hook(session, previous)


#: The one listener of each Session event, each running its list above.
LISTENERS = (
    ("before_flush", _before_flush),
    ("before_commit", _before_commit),
    ("after_commit", _after_commit),
    ("after_soft_rollback", _after_rollback),
)


def register() -> None:
    """Listen to the Session events (once, however often it is called)."""
    for event, listener in LISTENERS:
        if not sa.event.contains(Session, event, listener):
            sa.event.listen(Session, event, listener)


# --- the request's unit of work ----------------------------------------------------------


def run(work: Callable[[], T]) -> T:
    """Run ``work()`` and commit once; on any exception roll back and re-raise."""
    session = db.session()
    try:
        result = work()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def abandon() -> None:
    """End the request's transaction keeping nothing: its work, and what the hooks held."""
    db.session.rollback()


# --- the exception: a transaction of its own ---------------------------------------------


def _own_bind() -> sa.Engine | sa.Connection:
    session = db.session()
    bind = session.get_bind()
    if isinstance(bind, sa.Connection):  # tests: one connection; this is a savepoint on it
        return bind
    transaction = session.get_transaction()
    if bind.dialect.name == "sqlite" and transaction is not None and transaction.is_active:
        return session.connection()  # the one writer is this request: nest in it
    return bind


@contextlib.contextmanager
def own_transaction() -> Iterator[Session]:
    """A short transaction of its own (see the module's docstring for its three uses):
    commits when the block ends, rolls back if it raises."""
    session = Session(
        bind=_own_bind(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info={"own_transaction": True},
    )
    try:
        with session.begin():
            yield session
    finally:
        session.close()


class Savepoint:
    """What ``savepoint`` yields: ``give_back()`` rolls back to it when the block ends."""

    def __init__(self) -> None:
        self.kept = True

    def give_back(self) -> None:
        self.kept = False


@contextlib.contextmanager
def savepoint(connection: sa.Connection | None = None) -> Iterator[Savepoint]:
    """A savepoint in the request's transaction (or on ``connection``): released when the
    block ends, rolled back when it raises or called ``give_back()``.

    For taking locks again, and for a statement allowed to fail (app/db_grants.py):
    the request's pending changes are flushed first, and the block writes nothing, so the
    audit trail never holds a change a rollback to it undid.
    """
    if connection is None:
        db.session.flush()
        nested = db.session.begin_nested()
    else:
        nested = connection.begin_nested()
    mark = Savepoint()
    try:
        yield mark
    except BaseException:
        nested.rollback()
        raise
    if mark.kept:
        nested.commit()
    else:
        nested.rollback()


@contextlib.contextmanager
def transaction_on(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction on another engine: the operator's commands that run as the schema's
    owner (granting the service's rights, resealing a legacy audit trail), app/cli.py."""
    with engine.begin() as connection:
        yield connection


register()
