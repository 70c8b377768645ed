"""The audit trail: every write and every look at a person, hash-chained, append-only.

* Writes are captured where they happen — in the ORM flush of the services' changes — so
  no service can forget one; bulk statements record their own event.
* Reads of a person's record, eligibility, a consent or a photo are recorded by the
  services that serve them (``record``).
* Events wait in the session and are appended just before it commits, under one lock
  (PostgreSQL: an advisory transaction lock; SQLite: its single writer), so the chain
  never forks, and an event exists exactly when the change it describes does.
* Security events (failed logins, throttling, forbidden attempts) are written after the
  failed request's own work has been rolled back (``record_refusal``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import Session

from app.audit.models import GENESIS, AuditEvent
from app.db import utcnow
from app.extensions import db

#: A fixed key for pg_advisory_xact_lock: one chain, one appender at a time.
APPEND_LOCK_KEY = 0x5AFE_9A55

#: Columns whose values are personal: an event says they changed, never what they held.
PERSONAL_FIELDS = frozenset(
    {
        "full_name",
        "external_name",
        "external_contact",
        "address_description",
        "address",
        "contact_phone",
        "notes",
        "medical_notes",
        "provider_name",
        "provider_contact",
        "witness_name",
        "authority_officer_name",
        "review_note",
        "revocation_reason",
        "reason",
        "caption",
        "latitude",
        "longitude",
        "meeting_point",
        "route_notes",
        "password_hash",
        "device_label",
        "note",
        "title",
        "authority_name",
        "authority_decision_ref",
        "date_of_birth",
    }
)
#: Columns that are bookkeeping, or secrets, and never worth an event of their own.
IGNORED_FIELDS = frozenset(
    {"created_at", "updated_at", "recorded_at", "version", "last_used_at", "token_hash"}
)
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


def record_read(entity_type: str, ids: list, **details: Any) -> None:
    """A look at people's records: one event per request, naming every record seen."""
    ids = [str(i) for i in ids]
    if not ids:
        return
    if len(ids) == 1:
        record("read", entity_type, ids[0], details)
    else:
        record("read", entity_type, None, {"ids": ids, **details})


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


def _column_keys(obj: Any) -> list[str]:
    return [attr.key for attr in sa.inspect(type(obj)).column_attrs]


def _change(obj: Any, action: str) -> dict | None:
    state = sa.inspect(obj)
    table = obj.__table__.name
    details: dict[str, Any] = {}
    personal: list[str] = []
    if action == "create":
        # called after the flush, when defaults and generated values are known
        values = {}
        for key in _column_keys(obj):
            if key in IGNORED_FIELDS or key not in obj.__table__.c:
                continue
            value = getattr(obj, key, None)
            if key in PERSONAL_FIELDS:
                if value is not None:
                    personal.append(key)
            elif value is not None:
                values[key] = _plain(value)
        details["fields"] = values
    elif action == "update":
        changed = {}
        for key in _column_keys(obj):
            if key in IGNORED_FIELDS or key not in obj.__table__.c:
                continue
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before == after:
                continue
            if key in PERSONAL_FIELDS:
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


def event_hash(event: dict) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


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
    for row in rows:
        row["id"] = next_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(row)
        next_id += 1
    connection.execute(sa.insert(AuditEvent), rows)


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


@dataclass
class Verification:
    ok: bool
    checked: int
    first_broken_id: int | None


def verify_chain(batch: int = 5000) -> Verification:
    """Walk the whole chain in id order; the first event that does not fit is named."""
    prev_hash = GENESIS
    expected_id = 1
    checked = 0
    last_id = 0
    columns = [c for c in AuditEvent.__table__.c]
    while True:
        rows = (
            db.session.execute(
                sa.select(*columns)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return Verification(True, checked, None)
        for row in rows:
            event = dict(row)
            checked += 1
            if (
                event["id"] != expected_id
                or event["prev_hash"] != prev_hash
                or event_hash(event) != event["hash"]
            ):
                return Verification(False, checked, event["id"])
            prev_hash = event["hash"]
            expected_id += 1
            last_id = event["id"]
