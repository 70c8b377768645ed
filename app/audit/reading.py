"""Reading the audit trail: the events a page asks for, and what an administrator sees of
each (``admin_view``): who did what to which record and when, never case values."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import db


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
