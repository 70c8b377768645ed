"""The household timeline: what happened, in time order, derived from the stream of changes.

No service writes an entry: ``record_changes``, a consumer of the stream (app.changes),
reads the unit of work's changes before it commits and appends one entry for each thing
that happened to a household's case (``KINDS``): its members and their status, guardians,
visits, consents, housing proposals, evacuations, its own status. Entries hold codes and
ids only, never personal values; nobody edits them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.models import User
from app.changes import stream
from app.changes.stream import Change
from app.evacuations.models import EvacuationMember
from app.households.models import Person
from app.households.scope import get_household
from app.timeline.models import TimelineEntry
from app.web.pagination import page

#: What a guardianship entry follows of a link.
GUARDIANSHIP_FIELDS = ("relationship", "legal_status")
#: An evacuation's steps, each an entry for every household with members in it.
EVACUATION_STEPS = ("departed", "arrived", "cancelled")
#: What a member's entry names besides the person (ids only).
MEMBERSHIP_FIELDS = (
    "accompanied_by_person_id",
    "escort_user_id",
    "destination_offer_id",
    "consent_id",
)


def _time(value: str) -> dt.datetime:
    """A time the stream holds as text (ISO 8601, UTC), as a time again."""
    return dt.datetime.fromisoformat(value)


def _id(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _entry(
    change: Change,
    kind: str,
    entity_type: str,
    *,
    details: dict,
    occurred_at: dt.datetime | None = None,
    entity_id: Any = None,
    person_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
) -> TimelineEntry:
    return TimelineEntry(
        household_id=household_id or change.household_id,
        occurred_at=occurred_at or change.occurred_at,
        kind=kind,
        entity_type=entity_type,
        entity_id=_id(entity_id or change.entity_id),
        person_id=person_id,
        actor_id=change.actor_id,
        details=details,
    )


# --- one function per kind of record -----------------------------------------------------


def _visit(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    if change.action == "create":
        yield _entry(
            change,
            "visit_logged",
            "visit",
            occurred_at=_time(change.values["visited_at"]),
            details={"outcome": change.values["outcome"]},
        )


def _consent(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    """Recorded (at the time it was given), verified or rejected, revoked."""
    decided = {"basis": change.values["basis"], "decision": change.values["decision"]}
    if change.action == "create":
        yield _entry(
            change,
            "consent_recorded",
            "consent",
            occurred_at=_time(change.values["given_at"]),
            person_id=change.person_id,
            details={**decided, "review_status": change.values["review_status"]},
        )
        return
    review = change.after("review_status")
    if change.touches("review_status") and review in ("verified", "rejected"):
        yield _entry(
            change,
            f"consent_{review}",
            "consent",
            occurred_at=_time(change.values["reviewed_at"]),
            person_id=change.person_id,
            details=decided,
        )
    if change.touches("revoked_at") and change.after("revoked_at") is not None:
        yield _entry(
            change,
            "consent_revoked",
            "consent",
            occurred_at=_time(change.values["revoked_at"]),
            person_id=change.person_id,
            details=decided,
        )


def _guardianship(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    if change.action == "create":
        yield _entry(
            change,
            "guardian_linked",
            "guardianship",
            person_id=change.person_id,
            details={field: change.values[field] for field in GUARDIANSHIP_FIELDS},
        )
    elif change.action == "update" and any(map(change.touches, GUARDIANSHIP_FIELDS)):
        yield _entry(
            change,
            "guardianship_changed",
            "guardianship",
            person_id=change.person_id,
            details={
                "before": {field: change.before(field) for field in GUARDIANSHIP_FIELDS},
                "after": {field: change.after(field) for field in GUARDIANSHIP_FIELDS},
            },
        )


def _household(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    """A move along its lifecycle, and what moved it: the ``status_cause`` the move set
    (households.lifecycle ``change_household_status``)."""
    if change.action == "update" and change.touches("status"):
        to = change.after("status")
        details = {"from": change.before("status"), "to": to, "cause": change.after("status_cause")}
        if to == "closed":
            details["reason"] = change.after("closed_reason")
        yield _entry(change, "status_changed", "household", details=details)


def _person(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    if change.action == "create":
        yield _entry(
            change,
            "member_added",
            "person",
            person_id=change.person_id,
            details={"status": change.values["status"]},
        )
    elif change.action == "update" and change.touches("status"):
        yield _entry(
            change,
            "member_status_changed",
            "person",
            person_id=change.person_id,
            details={"from": change.before("status"), "to": change.after("status")},
        )


def _proposal(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    """Made, then shown, accepted, declined or withdrawn (with the offer it is about)."""
    details = {"offer_id": change.values["offer_id"]}
    if change.action == "create":
        yield _entry(change, "proposal_made", "proposal", details=details)
    elif change.action == "update" and change.touches("status"):
        status = change.after("status")
        if status == "accepted":
            details["places"] = change.values["places"]
        decided = change.after("decided_at") if change.touches("decided_at") else None
        yield _entry(
            change,
            f"proposal_{status}",
            "proposal",
            occurred_at=_time(decided) if decided else None,
            details=details,
        )


def _membership(change: Change, _session: Session) -> Iterable[TimelineEntry]:
    """A person added to an evacuation or taken out of it (before it departs)."""
    if change.action == "update":
        return
    added = change.action == "create"
    yield _entry(
        change,
        "added_to_evacuation" if added else "removed_from_evacuation",
        "evacuation",
        entity_id=change.values["evacuation_id"],
        person_id=change.person_id,
        details={f: change.values[f] for f in MEMBERSHIP_FIELDS if added and f in change.values},
    )


def _evacuation(change: Change, session: Session) -> Iterable[TimelineEntry]:
    """A step (departed, arrived, cancelled): one entry for each household with members in
    it, naming them."""
    step = change.after("status")
    if change.action != "update" or not change.touches("status") or step not in EVACUATION_STEPS:
        return
    members = session.execute(
        sa.select(Person.household_id, EvacuationMember.person_id)
        .join(Person, Person.id == EvacuationMember.person_id)
        .where(EvacuationMember.evacuation_id == _id(change.entity_id))
        .order_by(Person.household_id, EvacuationMember.person_id)
    ).all()
    households: dict[uuid.UUID, list[str]] = {}
    for household_id, person_id in members:
        households.setdefault(household_id, []).append(str(person_id))
    for household_id, person_ids in households.items():
        yield _entry(
            change,
            f"evacuation_{step}",
            "evacuation",
            household_id=household_id,
            occurred_at=_time(change.values[f"{step}_at"]),
            details={"person_ids": person_ids},
        )


#: The records a household's history is told from, and how.
DERIVED_FROM: dict[str, Callable[[Change, Session], Iterable[TimelineEntry]]] = {
    "visits": _visit,
    "consent_records": _consent,
    "guardianships": _guardianship,
    "households": _household,
    "persons": _person,
    "housing_proposals": _proposal,
    "evacuation_members": _membership,
    "evacuations": _evacuation,
}


@stream.consumer
def record_changes(session: Session, changes: list[Change]) -> None:
    """Before the commit: the entries the unit of work's changes make, in their order."""
    entries: list[TimelineEntry] = []
    with session.no_autoflush:
        for change in changes:
            derive = DERIVED_FROM.get(change.entity)
            if derive is not None and (change.household_id or change.entity == "evacuations"):
                entries.extend(derive(change, session))
    session.add_all(entries)


# --- reading -----------------------------------------------------------------------------


#: A household's history in time order (then in the order it was recorded).
OLDEST_FIRST = [
    (TimelineEntry.occurred_at, False),
    (TimelineEntry.recorded_at, False),
    (TimelineEntry.id, False),
]


def list_timeline(actor: User, household_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of a household's history, the household loaded within the actor's scope
    (404 outside it); the entries shown count as looked at."""
    household = get_household(actor, household_id)
    stmt = sa.select(TimelineEntry).where(TimelineEntry.household_id == household.id)
    return page(stmt, OLDEST_FIRST, args, seen=saw_entries)


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
