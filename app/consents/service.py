"""Consent records: recording, the coordinators' review, revocation.

A record is never edited or deleted: a decision is revoked and a new one recorded, so the
history of every decision stays readable. Every change locks the person the record is
about before the record itself (the lock order, ``app.households.scope.lock_persons``),
so it never deadlocks with an evacuation step and a withdrawal is never the one given up.
Functions flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import CASE_ROLES, require_role
from app.consents.eligibility import Eligibility, evaluate_eligibility
from app.consents.models import ConsentRecord
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.extensions import db
from app.households.models import ADULT_AGE, Guardianship, Household, Person, age_on
from app.households.scope import get_person, household_scope, lock_persons, person_scope
from app.visits.models import Visit
from app.visits.service import CLOCK_SKEW


class RuleRefused(DomainError):
    """A request the rule of law refuses, with the rule's code."""

    status, code, title = 422, "rule_refused", "Refused by the rule"

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(
            message,
            code=code,
            errors={field: [message]},
            reasons=[{"code": code, "message": message}],
        )


# --- recording ---------------------------------------------------------------------------


def record_consent(actor: User, data: dict) -> ConsentRecord:
    """Record a consent or a refusal about one person, collected by ``actor``.

    Returns the record with its context (the person's name and age, who decided), which
    counts as a look at each of them (``saw_consents``)."""
    require_role(actor, *CASE_ROLES, doing="record consents or refusals")
    now = utcnow()
    subject = db.session.scalar(person_scope(actor).where(Person.id == data["subject_id"]))
    if subject is None:
        raise Invalid({"subject_id": ["No such person."]})
    lock_persons([subject.id])
    given_at: dt.datetime = data["given_at"].astimezone(dt.UTC)
    if given_at > now + CLOCK_SKEW:
        raise Invalid({"given_at": ["A decision cannot be given in the future."]})
    if given_at.date() < subject.date_of_birth:
        raise Invalid({"given_at": ["A decision cannot be given before the person was born."]})
    valid_until = data.get("valid_until")
    if valid_until is not None and valid_until < given_at.date():
        raise Invalid({"valid_until": ["A decision cannot end before it was given."]})
    if data["evidence"] == "witnessed_verbal" and not (data.get("witness_name") or "").strip():
        raise Invalid({"witness_name": ["A witnessed verbal decision needs the witness's name."]})

    basis = data["basis"]
    # child or adult on the day the decision was given, which may be before it is recorded
    is_child = subject.is_child_on(given_at.date())
    link = _check_giver(actor, subject, basis, is_child, data)
    visit_id = data.get("visit_id")
    if visit_id is not None:
        visit = db.session.get(Visit, visit_id)
        if visit is None or visit.household_id != subject.household_id:
            raise Invalid({"visit_id": ["No such visit of this person's household."]})

    needs_review = is_child and data["decision"] == "granted"
    authority = data.get("authority") or {}
    record = ConsentRecord(
        id=ensure_new_id(ConsentRecord, data.get("id")),
        subject_id=subject.id,
        basis=basis,
        decision=data["decision"],
        guardianship_id=link.id if link else None,
        authority_name=authority.get("name"),
        authority_officer_name=authority.get("officer_name"),
        authority_decision_ref=authority.get("decision_ref"),
        authority_decision_date=authority.get("decision_date"),
        given_at=given_at,
        visit_id=visit_id,
        evidence=data["evidence"],
        witness_name=data.get("witness_name"),
        valid_until=valid_until,
        notes=data.get("notes"),
        review_status="pending_review" if needs_review else "not_required",
        recorded_by=actor.id,
        recorded_at=now,
    )
    db.session.add(record)
    db.session.flush()
    shown = get_consent(actor, record.id)
    saw_consents([shown], via="record_consent", actor=actor)
    return shown


def _check_giver(
    actor: User, subject: Person, basis: str, is_child: bool, data: dict
) -> Guardianship | None:
    """Who may decide for this person (DESIGN §4, clauses 2-5)."""
    if data.get("guardianship_id") is not None and basis != "parental":
        raise Invalid({"guardianship_id": ["Only a parental decision names a guardianship."]})
    if data.get("authority") is not None and basis != "social_services":
        raise Invalid({"authority": ["Only a social-services decision names an authority."]})

    if basis == "self":
        if is_child:
            raise RuleRefused(
                "subject_is_child",
                f"{subject.full_name} is a child: a parent or the social services decide.",
                "basis",
            )
        return None
    if not is_child:
        raise RuleRefused(
            "subject_is_adult",
            f"{subject.full_name} is an adult and decides for themselves (basis 'self').",
            "basis",
        )
    if basis == "parental":
        if data.get("guardianship_id") is None:
            raise Invalid({"guardianship_id": ["A parental decision names the parent's link."]})
        link = db.session.get(Guardianship, data["guardianship_id"])
        if link is None or link.child_id != subject.id:
            raise Invalid({"guardianship_id": ["No such guardianship of this child."]})
        if not link.is_parent:
            raise RuleRefused(
                "not_a_parent",
                "Only an active mother, father or adoptive parent can decide for a child; "
                f"this link is {link.relationship.replace('_', ' ')} ({link.legal_status}).",
                "guardianship_id",
            )
        return link
    # social services
    if actor.role != COORDINATOR:
        raise Forbidden(
            "Social-services authorizations are recorded by coordinators.",
            code="coordinator_required",
        )
    if not data.get("authority"):
        raise Invalid({"authority": ["Name the authority, its decision number and date."]})
    has_parent = db.session.scalars(
        sa.select(Guardianship).where(Guardianship.child_id == subject.id)
    ).all()
    if any(link.is_parent for link in has_parent):
        raise RuleRefused(
            "has_parent",
            f"{subject.full_name} has a parent on record; a parent decides, not the "
            "social services.",
            "basis",
        )
    return None


# --- reading -----------------------------------------------------------------------------


def consents_query(
    actor: User,
    *,
    review_status: str | None = None,
    subject_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    basis: str | None = None,
    decision: str | None = None,
) -> sa.Select:
    stmt = (
        sa.select(ConsentRecord)
        .join(Person, Person.id == ConsentRecord.subject_id)
        .join(Household, Household.id == Person.household_id)
        .where(household_scope(actor))
    )
    filters = {
        ConsentRecord.review_status: review_status,
        ConsentRecord.subject_id: subject_id,
        Person.household_id: household_id,
        ConsentRecord.basis: basis,
        ConsentRecord.decision: decision,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if review_status == "pending_review":
        # a grant revoked before review has nothing left to review
        stmt = stmt.where(ConsentRecord.revoked_at.is_(None))
    return stmt


def load_with_context(stmt: sa.Select) -> list[ConsentRecord]:
    """Run a consents SELECT adding what a reviewer needs to decide, in the same query."""
    guardian = aliased(Person)
    recorder = aliased(User)
    stmt = (
        stmt.add_columns(
            Person.full_name,
            Person.date_of_birth,
            Person.dob_estimated,
            Household.id,
            Household.ref,
            Guardianship.relationship,
            Guardianship.legal_status,
            sa.func.coalesce(guardian.full_name, Guardianship.external_name),
            Guardianship.guardian_person_id,
            recorder.full_name,
            Visit.visited_at,
        )
        .outerjoin(Guardianship, Guardianship.id == ConsentRecord.guardianship_id)
        .outerjoin(guardian, guardian.id == Guardianship.guardian_person_id)
        .join(recorder, recorder.id == ConsentRecord.recorded_by)
        .outerjoin(Visit, Visit.id == ConsentRecord.visit_id)
    )
    records = []
    today = utcnow().date()
    for row in db.session.execute(stmt):
        record = row[0]
        (
            name,
            born,
            estimated,
            household_id,
            ref,
            relationship,
            legal_status,
            giver,
            guardian_person_id,
            recorder_name,
            visited_at,
        ) = row[1:]
        age = age_on(born, today)
        given_by = {"parental": giver, "social_services": record.authority_name, "self": name}
        record.context = {
            "subject_name": name,
            "subject_age": age,
            "subject_is_child": age < ADULT_AGE,
            "subject_dob_estimated": estimated,
            "household_id": household_id,
            "household_ref": ref,
            "given_by": given_by[record.basis],
            "relationship": relationship,
            "relationship_status": legal_status,
            "recorded_by_name": recorder_name,
            "visit_visited_at": visited_at,
            # not shown: whose record the answer names (for the audit of the look)
            "guardian_person_id": guardian_person_id,
        }
        records.append(record)
    return records


def saw_consents(
    records: list[ConsentRecord], via: str = "consents", actor: User | None = None
) -> None:
    """Consent records were shown with their context: each record, the person it is about,
    and the parent who decided (their link, and their person record) count as looked at."""
    audit.record_reads(
        [
            *(("consent_records", r.id) for r in records),
            *(("persons", r.subject_id) for r in records),
            *(("guardianships", r.guardianship_id) for r in records),
            *(("persons", r.context["guardian_person_id"]) for r in records),
        ],
        actor_id=actor.id if actor else None,
        via=via,
    )


def read_consent(actor: User, consent_id: uuid.UUID) -> ConsentRecord:
    """A consent record with its context, as someone looks at it (the look is audited)."""
    record = get_consent(actor, consent_id)
    saw_consents([record], via="consent", actor=actor)
    return record


def read_eligibility(actor: User, person_id: uuid.UUID) -> Eligibility:
    """Evaluate the rule for someone in scope; the look, and its answer, are audited."""
    answer = evaluate_eligibility(get_person(actor, person_id))
    audit.record(
        "read",
        "eligibility",
        person_id,
        {
            "eligible": answer.eligible,
            "requirement": answer.requirement,
            "reasons": [r.code for r in answer.reasons],
            "consent_id": answer.consent_id,
        },
    )
    return answer


def get_consent(actor: User, consent_id: uuid.UUID, *, for_update: bool = False) -> ConsentRecord:
    """A consent record in scope, with its context.

    ``for_update`` keeps the lock order (see ``lock_persons``): the person it is about is
    locked first, then the record (FOR NO KEY UPDATE, so a member's foreign key to it is
    never blocked), and the record is read afresh under those locks.
    """
    stmt = consents_query(actor).where(ConsentRecord.id == consent_id)
    if for_update:
        # a record's subject never changes: reading it before the locks is safe
        subject_id = db.session.scalar(stmt.with_only_columns(ConsentRecord.subject_id))
        if subject_id is None:
            raise NotFound("No such consent record.")
        lock_persons([subject_id])
        stmt = stmt.execution_options(populate_existing=True)
        locked = db.session.scalar(stmt.with_for_update(of=ConsentRecord, key_share=True))
        if locked is None:
            raise NotFound("No such consent record.")
    found = load_with_context(stmt)
    if not found:
        raise NotFound("No such consent record.")
    return found[0]


# --- review and revocation ---------------------------------------------------------------


def _review(actor: User, record: ConsentRecord, status: str, note: str | None) -> ConsentRecord:
    """``record`` comes from ``get_consent(..., for_update=True)``: its person, then it,
    are locked; its callers have checked that ``actor`` is a coordinator."""
    if record.recorded_by == actor.id:
        raise Forbidden(
            "You recorded this decision; another coordinator must review it (four eyes).",
            code="four_eyes",
        )
    if record.revoked_at is not None:
        raise Conflict("This decision has been revoked.", code="invalid_transition")
    if record.review_status != "pending_review":
        raise Conflict(
            f"This decision is already {record.review_status.replace('_', ' ')}.",
            code="invalid_transition",
        )
    now = utcnow()
    record.review_status = status
    record.reviewed_by = actor.id
    record.reviewed_at = now
    record.review_note = note
    db.session.flush()
    saw_consents([record], via=f"consent_{status}", actor=actor)
    return record


def verify_consent(actor: User, consent_id: uuid.UUID, note: str | None = None) -> ConsentRecord:
    """A coordinator confirms a child's grant after checking its evidence."""
    require_role(actor, COORDINATOR, doing="review consents")
    return _review(actor, get_consent(actor, consent_id, for_update=True), "verified", note)


def reject_consent(actor: User, consent_id: uuid.UUID, note: str) -> ConsentRecord:
    """A coordinator refuses to accept a grant (forged form, wrong person...); a note says why."""
    require_role(actor, COORDINATOR, doing="review consents")
    if not (note or "").strip():
        raise Invalid({"note": ["Say why the record is rejected."]})
    return _review(actor, get_consent(actor, consent_id, for_update=True), "rejected", note)


def revoke_consent(actor: User, consent_id: uuid.UUID, reason: str) -> ConsentRecord:
    """Withdraw a decision, effective at once (a parent changed their mind)."""
    require_role(actor, *CASE_ROLES, doing="revoke consents or refusals")
    if not (reason or "").strip():
        raise Invalid({"reason": ["Say why the decision is revoked."]})
    # the person, then the record: never the other way round (see lock_persons)
    record = get_consent(actor, consent_id, for_update=True)
    if record.decision == "refused":
        # withdrawing a refusal loosens the rule: it takes a second person, a coordinator
        if actor.role != COORDINATOR:
            raise Forbidden(
                "A refusal stands until the person decides again (record the new decision) "
                "or a coordinator revokes it.",
                code="coordinator_required",
            )
        if record.recorded_by == actor.id:
            raise Forbidden(
                "You recorded this refusal; another coordinator must revoke it (four eyes).",
                code="four_eyes",
            )
    if record.revoked_at is not None:
        raise Conflict("This decision is already revoked.", code="invalid_transition")
    now = utcnow()
    record.revoked_at = now
    record.revoked_by = actor.id
    record.revocation_reason = reason
    db.session.flush()
    saw_consents([record], via="revoke_consent", actor=actor)
    return record
