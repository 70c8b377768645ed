"""The eligibility rule (DESIGN §4): may this person be evacuated, now?

``evaluate_eligibility`` is the one place the rule lives. The eligibility endpoint calls
it, and so do adding a person to an evacuation and departing, inside their own
transaction after locking, so a revocation committed a second earlier always wins.
It reads the records afresh every time: nothing is cached.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.changes import stream
from app.changes.stream import Change
from app.consents.models import ConsentRecord
from app.db import utcnow
from app.extensions import db
from app.households.models import Guardianship, Person

SELF, PARENTAL, SOCIAL_SERVICES = (
    "self_consent",
    "parental_consent",
    "social_services_authorization",
)


@dataclass
class Reason:
    code: str
    message: str
    person_id: uuid.UUID | None = None


@dataclass
class Eligibility:
    person_id: uuid.UUID
    is_child: bool
    requirement: str
    eligible: bool
    basis: str | None
    consent_id: uuid.UUID | None
    evaluated_at: dt.datetime
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class _Parent:
    link_id: uuid.UUID
    name: str
    relationship: str


def _standing(records: list[ConsentRecord], day: dt.date) -> tuple[ConsentRecord | None, bool]:
    """One decider's standing decision, and whether their latest was an expired grant.

    ``records`` are one decider's (a parent, the person, the social services), oldest
    first. A rejected record never happened. Otherwise the latest decides, and only it: if
    it was revoked or has expired, nothing stands — an older decision never comes back.
    A grant not yet verified does not lift that decider's earlier refusal.
    """
    live = [r for r in records if r.review_status != "rejected"]
    if not live:
        return None, False
    latest = live[-1]
    if latest.revoked_at is not None:
        return None, False
    if latest.is_expired_on(day):
        return None, latest.decision == "granted"
    if latest.decision == "granted" and latest.review_status == "pending_review":
        earlier, _ = _standing(live[:-1], day)
        if earlier is not None and earlier.decision == "refused":
            return earlier, False
    return latest, False


def _in_decision_order(record: ConsentRecord) -> tuple:
    # when two decisions carry the same time, the refusal counts as the later one
    return (record.given_at, record.decision == "refused", record.recorded_at, record.id)


def _consents(person_id: uuid.UUID) -> list[ConsentRecord]:
    return sorted(
        db.session.scalars(sa.select(ConsentRecord).where(ConsentRecord.subject_id == person_id)),
        key=_in_decision_order,
    )


def _parents(child_id: uuid.UUID) -> list[_Parent]:
    guardian = aliased(Person)
    rows = db.session.execute(
        sa.select(Guardianship, guardian.full_name)
        .outerjoin(guardian, guardian.id == Guardianship.guardian_person_id)
        .where(Guardianship.child_id == child_id)
        .order_by(Guardianship.created_at, Guardianship.id)
    ).all()
    return [
        _Parent(link.id, name or link.external_name or "a parent", link.relationship)
        for link, name in rows
        if link.is_parent
    ]


def _missing_or_expired(expired: bool, what: str) -> Reason:
    if expired:
        return Reason("consent_expired", f"The {what} has expired; a new one is needed.")
    return Reason("consent_missing", f"No {what} is on record.")


def evaluate_eligibility(person: Person, at: dt.datetime | None = None) -> Eligibility:
    """Evaluate DESIGN §4 for ``person`` at ``at`` (now by default), reading fresh state."""
    at = at or utcnow()
    day = at.date()
    is_child = person.is_child_on(day)
    records = _consents(person.id)
    reasons: list[Reason] = []
    if person.status != "present":
        reasons.append(
            Reason(
                "not_present", f"{person.full_name} is recorded as {person.status}, not present."
            )
        )

    consent: ConsentRecord | None = None
    if not is_child:
        requirement = SELF
        decision, expired = _standing([r for r in records if r.basis == "self"], day)
        if decision is None:
            reasons.append(_missing_or_expired(expired, f"own consent of {person.full_name}"))
        elif decision.decision == "refused":
            reasons.append(Reason("refused", f"{person.full_name} has refused to leave."))
        elif decision.review_status == "pending_review":
            reasons.append(
                Reason("consent_pending_review", "The consent has not been verified yet.")
            )
        else:
            consent = decision
    else:
        parents = _parents(person.id)
        if parents:
            requirement = PARENTAL
            consent = _parental(records, parents, day, reasons)
        else:
            requirement = SOCIAL_SERVICES
            consent = _social_services(records, day, reasons)

    for reason in reasons:
        reason.person_id = person.id
    eligible = not reasons and consent is not None
    return Eligibility(
        person_id=person.id,
        is_child=is_child,
        requirement=requirement,
        eligible=eligible,
        basis=consent.basis if eligible and consent else None,
        consent_id=consent.id if eligible and consent else None,
        evaluated_at=at,
        reasons=reasons,
    )


def _parental(
    records: list[ConsentRecord], parents: list[_Parent], day: dt.date, reasons: list[Reason]
) -> ConsentRecord | None:
    """Every parent's latest decision counts; one standing refusal blocks."""
    verified, pending, any_expired = None, None, False
    refusals = []
    for parent in parents:
        decision, expired = _standing(
            [r for r in records if r.basis == "parental" and r.guardianship_id == parent.link_id],
            day,
        )
        any_expired = any_expired or expired
        if decision is None:
            continue
        if decision.decision == "refused":
            refusals.append(parent)
        elif decision.review_status == "verified":
            verified = verified or decision
        else:
            pending = pending or decision
    for parent in refusals:
        reasons.append(
            Reason(
                "parental_refusal",
                f"{parent.name} ({parent.relationship.replace('_', ' ')}) refuses; "
                "a parent's standing refusal blocks the child's evacuation.",
            )
        )
    if refusals:
        return None
    if verified is not None:
        return verified
    if pending is not None:
        reasons.append(
            Reason(
                "consent_pending_review",
                "A parent's consent is recorded but a coordinator has not verified it yet.",
            )
        )
        return None
    reasons.append(_missing_or_expired(any_expired, "parental consent"))
    return None


def _social_services(
    records: list[ConsentRecord], day: dt.date, reasons: list[Reason]
) -> ConsentRecord | None:
    """A child with no parent: only the social services can decide, whoever else is there."""
    decision, expired = _standing([r for r in records if r.basis == "social_services"], day)
    if decision is None:
        reasons.append(_missing_or_expired(expired, "social-services authorization for this child"))
        return None
    if decision.decision == "refused":
        reasons.append(
            Reason("refused", f"The social services ({decision.authority_name}) refused.")
        )
        return None
    if decision.review_status != "verified":
        reasons.append(
            Reason(
                "consent_pending_review",
                "The social-services authorization has not been verified by a coordinator yet.",
            )
        )
        return None
    return decision


# --- the stored answer, for reports ------------------------------------------------------


def _touched(changes: list[Change]) -> set[uuid.UUID]:
    """Whose answer may the changes move? Consents' subjects, guardianships' children (the
    person each belongs to), new people and people whose status or birth date changed."""
    touched = set()
    for change in changes:
        if change.action == "delete" or change.person_id is None:
            continue
        if change.entity in ("consent_records", "guardianships") or (
            change.entity == "persons"
            and (
                change.action == "create"
                or change.touches("status")
                or change.touches("date_of_birth")
            )
        ):
            touched.add(change.person_id)
    return touched


@stream.consumer
def store_answers(session: Session, changes: list[Change]) -> None:
    """Before commit: store the rule's current answer for everyone the changes touched."""
    touched = _touched(changes)
    if not touched:
        return
    people = session.scalars(sa.select(Person).where(Person.id.in_(touched))).all()
    table = Person.__table__
    for person in people:
        answer = evaluate_eligibility(person)
        until = None
        if answer.eligible:
            until = session.scalar(
                sa.select(ConsentRecord.valid_until).where(ConsentRecord.id == answer.consent_id)
            )
        session.execute(
            sa.update(table)
            .where(table.c.id == person.id)
            .values(
                eligibility_state="eligible" if answer.eligible else answer.reasons[0].code,
                eligibility_until=until,
            )
        )
