"""The household timeline: what happened, in time order. Services append; nobody edits."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import User
from app.extensions import db
from app.timeline.models import TimelineEntry


def record_entry(
    *,
    household_id: uuid.UUID,
    occurred_at: dt.datetime,
    kind: str,
    entity_type: str,
    entity_id: uuid.UUID,
    actor: User | None,
    person_id: uuid.UUID | None = None,
    details: dict | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        household_id=household_id,
        occurred_at=occurred_at,
        kind=kind,
        entity_type=entity_type,
        entity_id=entity_id,
        person_id=person_id,
        actor_id=actor.id if actor else None,
        details=details or {},
    )
    db.session.add(entry)
    return entry


def timeline_query(household_id: uuid.UUID) -> sa.Select:
    return sa.select(TimelineEntry).where(TimelineEntry.household_id == household_id)


def saw_entries(entries: list[TimelineEntry]) -> None:
    """A page of a household's history was shown: the household, and the people its
    entries are about, count as looked at."""
    audit.record_reads(
        [
            *(("households", entry.household_id) for entry in entries),
            *(("persons", entry.person_id) for entry in entries),
        ],
        via="timeline",
    )
