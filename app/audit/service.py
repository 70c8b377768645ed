"""The audit trail: every write and every look at a person, hash-chained, append-only.

* Writes come from the stream of changes (``app.changes.stream``), captured where they
  happen — in the ORM flush of the services' changes — so no service can forget one; bulk
  statements record their own event. ``append_to_chain`` is one of the stream's consumers.
* Every answer that shows a household's or a person's record (and consents, eligibility,
  evacuations, housing offers and photos) is recorded by the service that serves it: one
  ``read`` event per record seen, all with the request's id (``record_reads``).
* Administrators see the trail without case values (``app.audit.reading.admin_view``):
  which fields, never what they held; the stored details, and so the hashes, stay as
  written.
* Events wait in the session and are appended just before it commits, under one lock
  (PostgreSQL: an advisory transaction lock; SQLite: its single writer), so the chain
  never forks, and an event exists exactly when the change it describes does.
* The chain is keyed: each hash is HMAC-SHA256 under ``AUDIT_KEY``, which is never stored
  in the database, so someone holding the database cannot recompute it after an edit
  (``app.audit.chain``, which verifies it too). Checkpoints of its head, kept elsewhere,
  catch events cut from its end (``app.audit.checkpoints``).
* Security events (failed logins, throttling, forbidden attempts) are written after the
  failed request's own work has been rolled back (``record_refusal``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import checkpoints
from app.audit.chain import sealer
from app.audit.models import GENESIS, AuditEvent
from app.changes import stream
from app.changes.stream import Change, current_actor_id, current_request_id, plain
from app.db import utcnow
from app.extensions import db

#: A fixed key for pg_advisory_xact_lock: one chain, one appender at a time.
APPEND_LOCK_KEY = 0x5AFE_9A55

#: Tables that are derived records or the audit itself: not in the stream of changes, so
#: not in the trail.
NOT_AUDITED = stream.NOT_STREAMED


def record(
    action: str,
    entity_type: str,
    entity_id: Any = None,
    details: dict | None = None,
    *,
    actor_id: uuid.UUID | None = None,
    session: Session | None = None,
) -> None:
    """Queue an event; it is appended to the chain when the transaction commits, in its
    place among the unit of work's changes (``seq``)."""
    session = session or db.session()
    session.info.setdefault("audit_pending", []).append(
        {
            "seq": stream.next_seq(session),
            "occurred_at": utcnow(),
            "actor_id": actor_id or current_actor_id(),
            "action": action,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "request_id": current_request_id(),
            "details": plain(details or {}),
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


def record_refusal(
    action: str,
    entity_type: str,
    entity_id: Any,
    details: dict,
    *,
    actor_id: uuid.UUID | None,
    session: Session,
) -> None:
    """A refused request's trace, queued in ``session``: the refusal's own transaction,
    opened once the request's work is abandoned (app/error_handlers.py ``audit_refusal``)."""
    record(action, entity_type, entity_id, details, actor_id=actor_id, session=session)


# --- writes, from the stream of changes ------------------------------------------------


def _details(change: Change) -> dict[str, Any]:
    """What the trail keeps of a change: the values a create set or an update changed, and
    the names of the personal or secret columns among them, never their values."""
    details: dict[str, Any] = {}
    if change.action == "create":
        details["fields"] = dict(change.values)
    elif change.action == "update":
        details["changed"] = {key: dict(value) for key, value in change.changed.items()}
    if change.personal_fields:
        details["personal_fields"] = sorted(change.personal_fields)
    return details


def _event(change: Change) -> dict:
    return {
        "seq": change.seq,
        "occurred_at": change.occurred_at,
        "actor_id": change.actor_id,
        "action": change.action,
        "entity_type": change.entity,
        "entity_id": change.entity_id,
        "request_id": change.request_id,
        "details": _details(change),
    }


def _rows(session: Session, changes: list[Change]) -> list[dict]:
    """The unit of work's events, in the order they happened: its changes and what was
    queued (reads, refusals, bulk statements), by their places in the stream."""
    queued = session.info.pop("audit_pending", [])
    events = sorted([*queued, *(_event(change) for change in changes)], key=lambda e: e["seq"])
    return [{key: value for key, value in event.items() if key != "seq"} for event in events]


def hold_append_lock(session: Session) -> dt.datetime:
    """Take the chain's append lock (PostgreSQL: an advisory lock held to the end of the
    transaction; SQLite: its single writer already serialises) once per transaction; the
    time it was taken. Whoever appends in commit order takes it: the chain, the feed."""
    transaction = session.get_transaction()
    held = session.info.get("audit_append_lock")
    if held is not None and held[0] is transaction:
        return held[1]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    taken_at = utcnow()
    session.info["audit_append_lock"] = (transaction, taken_at)
    return taken_at


@stream.consumer
def append_to_chain(session: Session, changes: list[Change]) -> None:
    """Before the commit: the unit of work's events, appended to the chain under its lock."""
    rows = _rows(session, changes)
    if not rows:
        return
    hold_append_lock(session)
    connection = session.connection()
    head = connection.execute(
        sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    next_id, prev_hash = (head.id + 1, head.hash) if head else (1, GENESIS)
    seal = sealer(checkpoints.audit_key())
    for row in rows:
        row["id"] = next_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = seal(row)
        next_id += 1
    connection.execute(sa.insert(AuditEvent), rows)
    checkpoints.after_append(session, rows[0]["id"], rows[-1]["id"], rows[-1]["hash"])


def forget(session: Session, *_: Any) -> None:
    """After a rollback: the queued events never happened."""
    session.info.pop("audit_pending", None)
    session.info.pop("audit_append_lock", None)
