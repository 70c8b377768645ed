"""The stream of domain changes: every write to a row, captured once, read by every consumer.

* Captured at each flush (``capture``, the before-flush hook of app/unit_of_work.py) from
  the ORM's changes, so no service can forget one: updates and deletes as the flush is
  about to write them, creates once it has (their ids and defaults known). Bulk statements
  (Core ``update``/``delete``) are not in it; they record their own audit event.
* Finalised once, before the unit of work commits (``collect``): each becomes a ``Change``
  with its household, person and team resolved from the model's ``__change_scope__``
  (``app.changes.scope``), and its personal and secret values withheld: their names only.
* Read by the consumers, ``fn(session, changes)`` (``consumer``), in the order
  app/unit_of_work.py lists them: the stored eligibility answers, the household timeline,
  the audit chain, the per-team change feed.

The derived records and the audit itself are not streamed (``NOT_STREAMED``). A unit of
work's changes are forgotten when it commits or rolls back (``forget``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import Session

from app.changes.scope import ChangeScope
from app.db import is_personal, utcnow
from app.extensions import db
from app.households.models import Household, Person

#: Derived records and the audit itself: written from the stream, never part of it.
NOT_STREAMED = frozenset({"audit_events", "idempotency_keys", "timeline_entries", "change_feed"})

_KEY = "change_stream"


# --- the record --------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One row created, updated or deleted in a unit of work, as every consumer sees it."""

    #: Its place in the unit of work (shared with the audit trail's queued events).
    seq: int
    #: The table: "households", "persons", "consent_records", ...
    entity: str
    #: The primary key as text (a composite key's parts joined with ":").
    entity_id: str
    #: "create", "update" or "delete".
    action: str
    household_id: uuid.UUID | None
    person_id: uuid.UUID | None
    #: The household's team (or the team a row belongs to directly): the feed it goes to.
    team_id: uuid.UUID | None
    #: Its non-personal column values, JSON-plain: as created (create), after the change
    #: (update), as they were (delete). A value that is None is left out.
    values: Mapping[str, Any]
    #: update: ``{attr: {"before": .., "after": ..}}`` for each non-personal column changed.
    changed: Mapping[str, Mapping[str, Any]]
    #: The personal or secret columns it set (create) or changed (update): names only.
    personal_fields: tuple[str, ...]
    #: When the flush that carried it began.
    occurred_at: dt.datetime
    #: Who did it: the request's user, else the actor whose permission the unit of work
    #: checked (``acting``); None for the operator.
    actor_id: uuid.UUID | None
    request_id: str | None

    def touches(self, attr: str) -> bool:
        """Whether it set (create), changed (update) or removed (delete) ``attr``."""
        if attr in self.personal_fields:
            return True
        if self.action == "update":
            return attr in self.changed
        return attr in self.values

    def before(self, attr: str) -> Any:
        """A non-personal value before an update (unchanged ones as they are)."""
        if attr in self.changed:
            return self.changed[attr]["before"]
        return self.values.get(attr)

    def after(self, attr: str) -> Any:
        return self.values.get(attr)

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the columns it set or changed, personal ones included (no values)."""
        if self.action == "create":
            return tuple(sorted({*self.values, *self.personal_fields}))
        if self.action == "update":
            return tuple(sorted({*self.changed, *self.personal_fields}))
        return ()


# --- context -----------------------------------------------------------------------------


def current_request_id() -> str | None:
    if has_app_context():
        return g.get("request_id")
    return None


def current_actor_id() -> uuid.UUID | None:
    """The signed-in user of the current request, if any."""
    if has_app_context():
        actor = g.get("actor")
        return actor.id if actor is not None else None
    return None


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: times in ISO 8601, ids and amounts as text."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


# --- the unit of work's state ------------------------------------------------------------


@dataclass
class _Snapshot:
    values: dict[str, Any]
    changed: dict[str, dict[str, Any]]
    personal: list[str]
    #: the raw ids its scope names: household, person, team
    scope: tuple[Any, Any, Any]


@dataclass
class _Captured:
    seq: int
    obj: Any
    action: str
    occurred_at: dt.datetime
    #: taken before the flush for updates and deletes; for creates when finalised
    snapshot: _Snapshot | None = None
    entity_id: str | None = None


@dataclass
class _Stream:
    last_seq: int = 0
    captured: list[_Captured] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    actor_id: uuid.UUID | None = None


def _stream(session: Session) -> _Stream:
    stream = session.info.get(_KEY)
    if stream is None:
        stream = session.info[_KEY] = _Stream()
    return stream


def next_seq(session: Session) -> int:
    """The next place in the unit of work's order (the audit trail's queued events take
    theirs here too, so reads and writes keep the order they happened in)."""
    stream = _stream(session)
    stream.last_seq += 1
    return stream.last_seq


def acting(actor: Any) -> None:
    """The unit of work's changes are ``actor``'s when no request's user is known (a
    command, a job, a test calling a service): called once their permission is checked."""
    _stream(db.session()).actor_id = getattr(actor, "id", None)


def forget(session: Session, *_: Any) -> None:
    """After the commit or the rollback: the unit of work's changes are done with."""
    session.info.pop(_KEY, None)


# --- capturing ---------------------------------------------------------------------------


@functools.cache
def _columns(model: type) -> tuple[tuple[str, bool], ...]:
    """(attribute, withheld) for each column of ``model``'s table the stream follows, as the
    column is marked (``app.db.personal`` and the rest), table by table. A withheld column,
    personal or secret, is named when set or changed, never copied; bookkeeping is left out.
    """
    mapper = sa.inspect(model)
    return tuple(
        (
            mapper.get_property_by_column(column).key,
            is_personal(column) or column.info.get("secret") is True,
        )
        for column in model.__table__.columns
        if column.info.get("audited") is not False
    )


def _entity_id(obj: Any) -> str:
    identity = sa.inspect(obj).identity or tuple(
        getattr(obj, c.key) for c in sa.inspect(type(obj)).primary_key
    )
    return ":".join(str(part) for part in identity)


def _scope_ids(obj: Any) -> tuple[Any, Any, Any]:
    scope: ChangeScope | None = getattr(type(obj), "__change_scope__", None)
    if scope is None:
        return None, None, None
    return tuple(
        getattr(obj, name) if name is not None else None
        for name in (scope.household, scope.person, scope.team)
    )


def _snapshot(obj: Any, action: str) -> _Snapshot | None:
    """What ``action`` does to ``obj``, read from its state: None for an update that changes
    no followed column (bookkeeping only)."""
    state = sa.inspect(obj)
    values: dict[str, Any] = {}
    changed: dict[str, dict[str, Any]] = {}
    personal: list[str] = []
    for key, withheld in _columns(type(obj)):
        if action == "update":
            history = state.attrs[key].history
            if history.has_changes():
                before = history.deleted[0] if history.deleted else None
                after = history.added[0] if history.added else None
                if before != after:
                    if withheld:
                        personal.append(key)
                    else:
                        changed[key] = {"before": plain(before), "after": plain(after)}
        value = getattr(obj, key, None)
        if value is None:
            continue
        if not withheld:
            values[key] = plain(value)
        elif action == "create":
            personal.append(key)
    if action == "update" and not changed and not personal:
        return None
    return _Snapshot(values, changed, personal, _scope_ids(obj))


def capture(session: Session, _flush_context: Any = None, _instances: Any = None) -> None:
    """Before a flush: note what it will write (the before-flush hook)."""
    stream = _stream(session)
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__table__", None)
            if table is None or table.name in NOT_STREAMED:
                continue
            if action == "create":
                # its values (defaults included) are read once the flush has written them
                stream.captured.append(_Captured(next_seq(session), obj, action, utcnow()))
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            snapshot = _snapshot(obj, action)
            if snapshot is not None:
                stream.captured.append(
                    _Captured(next_seq(session), obj, action, utcnow(), snapshot, _entity_id(obj))
                )


# --- finalising and reading --------------------------------------------------------------


def _household_of(session: Session, person_id: Any) -> uuid.UUID | None:
    person = session.get(Person, person_id)  # usually in the identity map already
    return person.household_id if person is not None else None


def _team_of(session: Session, household_id: Any) -> uuid.UUID | None:
    household = session.get(Household, household_id)
    return household.team_id if household is not None else None


def _finalise(session: Session, captured: _Captured, actor_id, request_id) -> Change:
    snapshot = captured.snapshot or _snapshot(captured.obj, captured.action)
    household_id, person_id, team_id = snapshot.scope
    if household_id is None and person_id is not None:
        household_id = _household_of(session, person_id)
    if team_id is None and household_id is not None:
        team_id = _team_of(session, household_id)
    return Change(
        seq=captured.seq,
        entity=captured.obj.__table__.name,
        entity_id=captured.entity_id or _entity_id(captured.obj),
        action=captured.action,
        household_id=household_id,
        person_id=person_id,
        team_id=team_id,
        values=MappingProxyType(snapshot.values),
        changed=MappingProxyType(snapshot.changed),
        personal_fields=tuple(snapshot.personal),
        occurred_at=captured.occurred_at,
        actor_id=actor_id,
        request_id=request_id,
    )


def collect(session: Session) -> list[Change]:
    """Every change of the unit of work so far, in order: flushes until nothing is pending
    (``commit`` flushes only after its before-commit hooks), then finalises what the flushes
    captured, once."""
    while session.new or session.dirty or session.deleted:
        session.flush()
    stream = _stream(session)
    if stream.captured:
        actor_id = current_actor_id() or stream.actor_id
        request_id = current_request_id()
        with session.no_autoflush:
            stream.changes.extend(
                _finalise(session, captured, actor_id, request_id) for captured in stream.captured
            )
        stream.captured.clear()
    return list(stream.changes)


def consumer(
    fn: Callable[[Session, list[Change]], None],
) -> Callable[[Session], None]:
    """``fn(session, changes)`` as a before-commit hook ``hook(session)`` of
    app/unit_of_work.py: called with the unit of work's changes (``collect``).
    ``hook.__wrapped__`` is ``fn`` itself."""

    @functools.wraps(fn)
    def hook(session: Session) -> None:
        fn(session, collect(session))

    return hook
