"""The audit trail: every write and every look at a person, hash-chained, append-only.

* Writes are captured where they happen — in the ORM flush of the services' changes — so
  no service can forget one; bulk statements record their own event.
* Every answer that shows a household's or a person's record (and consents, eligibility,
  evacuations, housing offers and photos) is recorded by the service that serves it: one
  ``read`` event per record seen, all with the request's id (``record_reads``).
* Administrators see the trail without case values (``admin_view``): which fields, never
  what they held; the stored details, and so the hashes, stay as written.
* Events wait in the session and are appended just before it commits, under one lock
  (PostgreSQL: an advisory transaction lock; SQLite: its single writer), so the chain
  never forks, and an event exists exactly when the change it describes does.
* The chain is keyed: each hash is HMAC-SHA256 under ``AUDIT_KEY``, which is never stored
  in the database, so someone holding the database cannot recompute it after an edit.
  Checkpoints of its head, kept elsewhere, catch events cut from its end
  (``app.audit.checkpoints``).
* Security events (failed logins, throttling, forbidden attempts) are written after the
  failed request's own work has been rolled back (``record_refusal``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import Session

from app.audit import checkpoints
from app.audit.checkpoints import Checkpoint, is_authentic
from app.audit.models import GENESIS, AuditEvent
from app.db import is_personal, utcnow
from app.extensions import db

#: A fixed key for pg_advisory_xact_lock: one chain, one appender at a time.
APPEND_LOCK_KEY = 0x5AFE_9A55

#: Tables that are derived records or the audit itself.
NOT_AUDITED = frozenset({"audit_events", "idempotency_keys", "timeline_entries"})


# --- context -----------------------------------------------------------------------------


def current_request_id() -> str | None:
    if has_app_context():
        return g.get("request_id")
    return None


def _current_actor_id() -> uuid.UUID | None:
    if has_app_context():
        actor = g.get("actor")
        return actor.id if actor is not None else None
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def record(
    action: str,
    entity_type: str,
    entity_id: Any = None,
    details: dict | None = None,
    *,
    actor_id: uuid.UUID | None = None,
    session: Session | None = None,
) -> None:
    """Queue an event; it is appended to the chain when the transaction commits."""
    session = session or db.session()
    session.info.setdefault("audit_pending", []).append(
        {
            "occurred_at": utcnow(),
            "actor_id": actor_id or _current_actor_id(),
            "action": action,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "request_id": current_request_id(),
            "details": _plain(details or {}),
        }
    )


def record_reads(
    seen: Iterable[tuple[str, Any]], *, actor_id: uuid.UUID | None = None, **details: Any
) -> None:
    """A look at people's records: one ``read`` event per record seen, each carrying the
    request's id, so "who looked at this child" is one indexed filter on ``entity_id`` —
    list reads included. A record this transaction has already named is not named again.
    """
    pending = db.session().info.setdefault("audit_pending", [])
    named = {(e["entity_type"], e["entity_id"]) for e in pending if e.get("action") == "read"}
    for entity_type, entity_id in seen:
        key = (entity_type, None if entity_id is None else str(entity_id))
        if entity_id is None or key in named:
            continue
        named.add(key)
        record("read", entity_type, entity_id, details, actor_id=actor_id)


def record_read(
    entity_type: str, ids: Iterable, *, actor_id: uuid.UUID | None = None, **details: Any
) -> None:
    """A look at records of one type: one ``read`` event for each (``record_reads``)."""
    record_reads(((entity_type, i) for i in ids), actor_id=actor_id, **details)


def pending_reads() -> list[list[str]]:
    """The records this transaction has recorded as looked at, as ``[entity_type, id]``
    (kept with an idempotent answer, so that replaying it records the same look)."""
    pending = db.session().info.get("audit_pending", [])
    return [[e["entity_type"], e["entity_id"]] for e in pending if e.get("action") == "read"]


def record_refusal(action: str, entity_type: str, entity_id: Any, details: dict) -> None:
    """After a refused request has rolled back: write the refusal in a transaction of its own."""
    session = db.session()
    session.rollback()
    record(action, entity_type, entity_id, details, session=session)
    session.commit()


# --- capturing writes --------------------------------------------------------------------


def _entity_id(obj: Any) -> str:
    identity = sa.inspect(obj).identity or tuple(
        getattr(obj, c.key) for c in sa.inspect(type(obj)).primary_key
    )
    return ":".join(str(part) for part in identity)


@functools.cache
def _audited_columns(model: type) -> tuple[tuple[str, bool], ...]:
    """(attribute, withheld) for each column of ``model``'s table the trail follows, as the
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


def _change(obj: Any, action: str) -> dict | None:
    state = sa.inspect(obj)
    table = obj.__table__.name
    details: dict[str, Any] = {}
    personal: list[str] = []
    if action == "create":
        # called after the flush, when defaults and generated values are known
        values = {}
        for key, withheld in _audited_columns(type(obj)):
            value = getattr(obj, key, None)
            if value is None:
                continue
            if withheld:
                personal.append(key)
            else:
                values[key] = _plain(value)
        details["fields"] = values
    elif action == "update":
        changed = {}
        for key, withheld in _audited_columns(type(obj)):
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before == after:
                continue
            if withheld:
                personal.append(key)
            else:
                changed[key] = {"before": _plain(before), "after": _plain(after)}
        if not changed and not personal:
            return None
        details["changed"] = changed
    if personal:
        details["personal_fields"] = sorted(personal)
    return {"action": action, "entity_type": table, "details": details}


def _capture(session: Session, _context, _instances) -> None:
    pending = session.info.setdefault("audit_pending", [])
    captured = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            table = getattr(obj, "__table__", None)
            if table is None or table.name in NOT_AUDITED:
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            if action == "create":
                # its values (defaults included) are read once the flush has written them
                captured.append((obj, {"action": "create", "entity_type": table.name}))
                continue
            change = _change(obj, action)
            if change is not None:
                captured.append((obj, change))
    for obj, change in captured:
        change["obj"] = obj
        pending.append(change)


def _finalise(session: Session) -> list[dict]:
    """Turn queued events into rows: ids of new objects are known only after the flush."""
    rows = []
    actor_id = _current_actor_id()
    request_id = current_request_id()
    for event in session.info.pop("audit_pending", []):
        obj = event.pop("obj", None)
        if obj is not None:
            if "details" not in event:
                event = _change(obj, "create")
            event = {
                "occurred_at": utcnow(),
                "actor_id": actor_id,
                "entity_id": _entity_id(obj),
                "request_id": request_id,
                **event,
                "details": _plain(event["details"]),
            }
        rows.append(event)
    return rows


# --- the chain ---------------------------------------------------------------------------


def canonical(event: dict) -> bytes:
    """The bytes an event's hash covers: every column but the hash, in a fixed form."""
    occurred_at = event["occurred_at"]
    if isinstance(occurred_at, dt.datetime):
        occurred_at = occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    body = {
        "id": event["id"],
        "occurred_at": occurred_at,
        "actor_id": None if event["actor_id"] is None else str(event["actor_id"]),
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": event["entity_id"],
        "request_id": event["request_id"],
        "details": event["details"],
        "prev_hash": event["prev_hash"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: dict, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the event's canonical bytes under the audit key (the app's, by default)."""
    key = checkpoints.audit_key() if key is None else key
    return hmac.new(key, canonical(event), hashlib.sha256).hexdigest()


def _sealer(key: bytes):
    """``event_hash`` for one key, with the key's HMAC set-up done once (verify's hot loop)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def seal(event: dict) -> str:
        mac = keyed.copy()
        mac.update(canonical(event))
        return mac.hexdigest()

    return seal


def _append(session: Session) -> None:
    # capture the last changes now: commit() itself flushes only after this listener
    while session.new or session.dirty or session.deleted:
        session.flush()
    rows = _finalise(session)
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    head = connection.execute(
        sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    next_id, prev_hash = (head.id + 1, head.hash) if head else (1, GENESIS)
    seal = _sealer(checkpoints.audit_key())
    for row in rows:
        row["id"] = next_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = seal(row)
        next_id += 1
    connection.execute(sa.insert(AuditEvent), rows)
    checkpoints.after_append(session, rows[0]["id"], rows[-1]["id"], rows[-1]["hash"])


def _forget(session: Session, _previous) -> None:
    session.info.pop("audit_pending", None)


sa.event.listen(Session, "before_flush", _capture)
sa.event.listen(Session, "before_commit", _append)
sa.event.listen(Session, "after_soft_rollback", _forget)


# --- reading and verifying ---------------------------------------------------------------


def events_query(
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> sa.Select:
    stmt = sa.select(AuditEvent)
    for column, value in (
        (AuditEvent.entity_type, entity_type),
        (AuditEvent.entity_id, entity_id),
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.action, action),
    ):
        if value is not None:
            stmt = stmt.where(column == (str(value) if column is AuditEvent.entity_id else value))
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return stmt


#: Events about the service's own accounts and security, an administrator's business: shown
#: in full. Every other entity is case data, or may become it: its values are withheld.
STAFF_ENTITIES = frozenset({"users", "teams", "api_tokens", "request"})
#: Details that say how a record was reached or which fields changed, never what it holds.
NAMING_DETAILS = frozenset({"personal_fields", "via", "ids", "offer_id", "older_than_days"})


@dataclass(frozen=True)
class EventView:
    """An event as an administrator sees it (``admin_view``)."""

    id: int
    occurred_at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    request_id: str | None
    details: dict
    prev_hash: str
    hash: str


def withhold_case_values(details: dict) -> dict:
    """A case event's details without its values: the names of the fields set or changed,
    the ids and the route; every other key is only listed under ``withheld``."""
    shown: dict[str, Any] = {}
    withheld = []
    for key, value in details.items():
        if key in ("fields", "changed") and isinstance(value, dict):
            shown[key] = sorted(value)
        elif key in NAMING_DETAILS:
            shown[key] = value
        else:
            withheld.append(key)
    if withheld:
        shown["withheld"] = sorted(withheld)
    return shown


def admin_view(event: AuditEvent) -> EventView:
    """Administrators manage accounts, not cases (DESIGN §2): who did what to which record
    and when, but no case data. Filtered here, not when stored: the hash covers what was
    stored, so the chain still verifies."""
    details = event.details or {}
    if event.entity_type not in STAFF_ENTITIES:
        details = withhold_case_values(details)
    return EventView(
        id=event.id,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        request_id=event.request_id,
        details=details,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def load_for_admin(stmt: sa.Select) -> list[EventView]:
    """Run an ``events_query`` page for an administrator (``admin_view`` of each event)."""
    return [admin_view(event) for event in db.session.scalars(stmt)]


@dataclass
class Verification:
    ok: bool
    checked: int
    first_broken_id: int | None
    #: How many checkpoints the chain was compared with.
    checkpoints: int = 0
    #: What is wrong, in a sentence for the operator; None when intact.
    problem: str | None = None
    #: The newest event verified and its hash (0 and GENESIS for an empty chain): the head
    #: a checkpoint may vouch for, once ``ok``.
    head_id: int = 0
    head_hash: str = GENESIS


def verify_chain(
    batch: int = 5000,
    *,
    against: list[Checkpoint] | None = None,
    key: bytes | None = None,
    connection: sa.Connection | None = None,
) -> Verification:
    """Walk the whole chain in id order; the first event that does not fit is named.

    Every row is looked at: one with an id below 1 is reported before the walk (the chain
    is ids 1..N, consecutive), and the walk reads every id above the last one it checked.

    Each event must carry the next id, the previous event's hash, and its own keyed hash.
    Each checkpoint in ``against`` must be authentic (its MAC, under the same key), and the
    event at its sequence must exist and have the hash it recorded: so events cut from the
    end, or a chain cut back and grown again, are found too. Every checkpoint is checked,
    not only the newest: a cut made before an older checkpoint and covered by new events
    since still contradicts that older one.
    """
    key = checkpoints.audit_key() if key is None else key
    execute = (connection or db.session).execute
    seal = _sealer(key)
    against = against or []
    pinned: dict[int, list[Checkpoint]] = {}
    for checkpoint in against:
        if not is_authentic(checkpoint, key):
            return Verification(
                False,
                0,
                None,
                len(against),
                f"{checkpoint.describe()} is forged or was made with another key: "
                "its MAC does not match",
            )
        pinned.setdefault(checkpoint.sequence, []).append(checkpoint)
    for checkpoint in pinned.get(0, []):
        if checkpoint.hash != GENESIS:
            return Verification(
                False, 0, None, len(against), f"{checkpoint.describe()} is not of this chain"
            )

    def broken(checked: int, event_id: int, problem: str) -> Verification:
        return Verification(False, checked, event_id, len(against), problem)

    # the walk below reads ids 1 and up; a row below 1 is outside the chain, never valid
    outside = (
        execute(sa.select(AuditEvent.id).where(AuditEvent.id < 1).order_by(AuditEvent.id))
        .scalars()
        .all()
    )
    if outside:
        named = ", ".join(str(i) for i in outside[:10]) + (", ..." if len(outside) > 10 else "")
        return broken(
            0,
            outside[0],
            f"{len(outside)} event(s) with an id below 1 ({named}): the chain starts at "
            "event 1, so these were inserted outside it",
        )

    prev_hash = GENESIS
    expected_id = 1
    checked = 0
    last_id = 0
    columns = [c for c in AuditEvent.__table__.c]
    while True:
        rows = (
            execute(
                sa.select(*columns)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            event = dict(row)
            event_id = event["id"]
            checked += 1
            if event_id != expected_id:
                return broken(
                    checked,
                    event_id,
                    f"event {expected_id} is missing (the next one is event {event_id})",
                )
            if event["prev_hash"] != prev_hash:
                return broken(
                    checked,
                    event_id,
                    f"event {event_id} does not follow event {event_id - 1}: "
                    "an event was inserted, deleted or moved here",
                )
            if seal(event) != event["hash"]:
                return broken(
                    checked,
                    event_id,
                    f"event {event_id} was altered: its hash does not match its contents "
                    "under the audit key",
                )
            for checkpoint in pinned.get(event_id, ()):
                if checkpoint.hash != event["hash"]:
                    return broken(
                        checked,
                        event_id,
                        f"event {event_id} is not the one the {checkpoint.describe()} saw: "
                        "the chain was cut back and written again",
                    )
            prev_hash = event["hash"]
            expected_id += 1
            last_id = event_id
    furthest = max(pinned, default=0)
    if furthest > last_id:
        checkpoint = pinned[furthest][0]
        gone = f"events {last_id + 1} to {furthest} were"
        if furthest == last_id + 1:
            gone = f"event {furthest} was"
        return broken(
            checked,
            last_id + 1,
            f"the chain ends at event {last_id}, but the {checkpoint.describe()} saw it reach "
            f"event {furthest}: {gone} deleted",
        )
    return Verification(True, checked, None, len(against), head_id=last_id, head_hash=prev_hash)


def verify_trail(checkpoint_files: list[str] | tuple[str, ...] = ()) -> Verification:
    """The chain, checked against the service's own checkpoints (``AUDIT_CHECKPOINT_PATH``)
    and those in ``checkpoint_files``; a checkpoint file that cannot be read fails it."""
    try:
        against = checkpoints.load_all(checkpoint_files)
    except checkpoints.CheckpointError as error:
        return Verification(False, 0, None, 0, str(error))
    return verify_chain(against=against)
