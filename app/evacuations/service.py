"""Evacuations: planning, members, departure and arrival.

Nobody leaves without the permission the law requires: adding a member and departing run
the eligibility rule again inside the same transaction, after locking the people
concerned, so a revocation or refusal committed a moment earlier always wins (the
services that change consents and guardians lock the same person rows). Locks follow the
one order documented at ``app.households.scope.lock_persons``: the evacuation (each step
loads and locks it itself, within the actor's scope), then its people, and never a consent
or a guardianship before them, so a withdrawal racing a step waits its turn and is never
the one the database gives up. An arrival moves people and households through the
households' service and the offers through housing's, in that order. Functions flush; the
request commits.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.auth.models import COORDINATOR, FIELD_WORKER, Team, User
from app.auth.permissions import require_role
from app.consents.eligibility import Reason, evaluate_eligibility
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.evacuations.models import ACTIVE_STATUSES, Evacuation, EvacuationMember
from app.extensions import db
from app.households.lifecycle import record_arrival
from app.households.models import Person
from app.households.scope import lock_persons
from app.housing import service as housing
from app.housing.models import HousingOffer

STAFF_ROLES = (FIELD_WORKER, COORDINATOR)


def _refused(code: str, detail: str, reasons: list[Reason]) -> Conflict:
    return Conflict(
        detail,
        code=code,
        reasons=[{"code": r.code, "message": r.message, "person_id": r.person_id} for r in reasons],
    )


# --- reading -----------------------------------------------------------------------------


def evacuation_scope(actor: User) -> sa.ColumnElement[bool]:
    if actor.role == COORDINATOR:
        return sa.true()
    if actor.role == FIELD_WORKER:
        return Evacuation.team_id == actor.team_id
    return sa.false()


def evacuations_query(actor: User, *, status: str | None = None) -> sa.Select:
    stmt = sa.select(Evacuation).where(evacuation_scope(actor))
    if status:
        stmt = stmt.where(Evacuation.status == status)
    return stmt


def load_evacuations(stmt: sa.Select) -> list[Evacuation]:
    return list(db.session.scalars(stmt.options(selectinload(Evacuation.members))))


def saw_evacuations(
    evacuations: list[Evacuation], via: str = "evacuations", actor: User | None = None
) -> None:
    """Evacuations were shown (where people meet to leave, and who): each, and each person
    it lists, count as looked at."""
    audit.record_reads(
        [
            *(("evacuations", evacuation.id) for evacuation in evacuations),
            *(
                ("persons", person_id)
                for evacuation in evacuations
                for member in evacuation.members
                for person_id in (member.person_id, member.accompanied_by_person_id)
            ),
        ],
        actor_id=actor.id if actor else None,
        via=via,
    )


def read_evacuation(actor: User, evacuation_id: uuid.UUID) -> Evacuation:
    """An evacuation with its members, as someone looks at it (the look is audited)."""
    evacuation = get_evacuation(actor, evacuation_id)
    saw_evacuations([evacuation], via="evacuation", actor=actor)
    return evacuation


def get_evacuation(
    actor: User, evacuation_id: uuid.UUID, *, for_update: bool = False
) -> Evacuation:
    stmt = sa.select(Evacuation).where(Evacuation.id == evacuation_id, evacuation_scope(actor))
    if for_update:
        stmt = stmt.with_for_update()
    evacuation = db.session.scalar(stmt.options(selectinload(Evacuation.members)))
    if evacuation is None:
        raise NotFound("No such evacuation.")
    return evacuation


# --- planning ----------------------------------------------------------------------------


def plan_evacuation(actor: User, data: dict) -> Evacuation:
    _require_coordinator(actor)
    if db.session.get(Team, data["team_id"]) is None:
        raise Invalid({"team_id": ["No such team."]})
    evacuation = Evacuation(
        id=ensure_new_id(Evacuation, data.get("id")),
        team_id=data["team_id"],
        # in UTC, as it is stored: the answer shows what a later GET shows (and its ETag)
        planned_departure=data["planned_departure"].astimezone(dt.UTC),
        mode=data["mode"],
        meeting_point=data["meeting_point"].strip(),
        route_notes=data.get("route_notes"),
        created_by=actor.id,
    )
    db.session.add(evacuation)
    db.session.flush()
    return _shown(actor, get_evacuation(actor, evacuation.id), "plan_evacuation")


def _shown(actor: User, evacuation: Evacuation, via: str) -> Evacuation:
    """Each step answers with the evacuation and its members: a look, recorded."""
    saw_evacuations([evacuation], via=via, actor=actor)
    return evacuation


def _require_coordinator(actor: User) -> None:
    require_role(actor, COORDINATOR, doing="plan or run evacuations (coordinators do)")


def _locked(actor: User, evacuation_id: uuid.UUID) -> Evacuation:
    """A coordinator's step: the evacuation within the actor's scope, locked (FOR UPDATE,
    the first lock of the lock order); 403 for another role, 404 when there is none."""
    _require_coordinator(actor)
    return get_evacuation(actor, evacuation_id, for_update=True)


def _require_status(evacuation: Evacuation, status: str, action: str) -> None:
    if evacuation.status != status:
        raise Conflict(
            f"A {evacuation.status} evacuation cannot {action}.", code="invalid_transition"
        )


def _accompaniment_problem(
    evacuation: Evacuation,
    person: Person,
    member: EvacuationMember,
    persons: dict[uuid.UUID, Person],
    escorts: dict[uuid.UUID, User],
) -> Reason | None:
    """DESIGN §4.7: a child goes only with an adult member of the same evacuation or a
    named staff escort."""
    day = utcnow().date()
    if not person.is_child_on(day):
        return None
    companion = persons.get(member.accompanied_by_person_id)
    member_ids = {m.person_id for m in evacuation.members}
    if (
        companion is not None
        and companion.id in member_ids
        and not companion.is_child_on(day)
        and companion.status == "present"
    ):
        return None
    escort = escorts.get(member.escort_user_id)
    if escort is not None and escort.is_active and escort.role in STAFF_ROLES:
        return None
    return Reason(
        "unaccompanied_child",
        f"{person.full_name} is a child and needs an adult member of this evacuation or a "
        "named staff escort to go with them.",
        person.id,
    )


def add_member(actor: User, evacuation_id: uuid.UUID, data: dict) -> Evacuation:
    """Add a person: the rule is evaluated now, under lock; every reason is returned. The
    answer is the evacuation, refreshed, listing its members: a look at them, recorded."""
    evacuation = _locked(actor, evacuation_id)
    _require_status(evacuation, "planned", "take new members")
    person_id = data["person_id"]
    # the person and their companion, in one call after the evacuation (the lock order,
    # see lock_persons): a companion recorded deceased or missing meanwhile is seen so
    companion_id = data.get("accompanied_by_person_id")
    locked = lock_persons([person_id] if companion_id is None else [person_id, companion_id])
    person = locked.get(person_id)
    if person is None:
        raise Invalid({"person_id": ["No such person."]})
    if any(m.person_id == person_id for m in evacuation.members):
        raise Conflict(f"{person.full_name} is already a member.", code="duplicate")
    elsewhere = db.session.scalar(
        sa.select(Evacuation.id)
        .join(EvacuationMember, EvacuationMember.evacuation_id == Evacuation.id)
        .where(EvacuationMember.person_id == person_id, Evacuation.status.in_(ACTIVE_STATUSES))
    )
    if elsewhere is not None:
        raise Conflict(
            f"{person.full_name} is already in another evacuation ({elsewhere}).",
            code="already_in_evacuation",
        )
    member = EvacuationMember(
        evacuation_id=evacuation.id,
        person_id=person_id,
        accompanied_by_person_id=data.get("accompanied_by_person_id"),
        escort_user_id=data.get("escort_user_id"),
        destination_offer_id=data.get("destination_offer_id"),
        added_by=actor.id,
    )
    _check_references(member)
    eligibility = evaluate_eligibility(person)
    reasons = list(eligibility.reasons)
    companions = _load_people([member.accompanied_by_person_id])
    escorts = _load_users([member.escort_user_id])
    problem = _accompaniment_problem(evacuation, person, member, companions, escorts)
    if problem is not None:
        reasons.append(problem)
    if reasons:
        code = "unaccompanied_child" if eligibility.eligible else "not_eligible"
        raise _refused(code, f"{person.full_name} cannot join this evacuation.", reasons)
    member.consent_id = eligibility.consent_id
    db.session.add(member)
    _touch(evacuation)
    db.session.flush()
    db.session.refresh(evacuation, attribute_names=["members"])
    return _shown(actor, evacuation, "add_evacuation_member")


def _touch(evacuation: Evacuation) -> None:
    """The members are part of the evacuation: changing them is a new version (a new ETag)."""
    evacuation.updated_at = utcnow()


def _check_references(member: EvacuationMember) -> None:
    if member.escort_user_id is not None and db.session.get(User, member.escort_user_id) is None:
        raise Invalid({"escort_user_id": ["No such user."]})
    if (
        member.destination_offer_id is not None
        and db.session.get(HousingOffer, member.destination_offer_id) is None
    ):
        raise Invalid({"destination_offer_id": ["No such housing offer."]})
    if member.accompanied_by_person_id is not None and (
        db.session.get(Person, member.accompanied_by_person_id) is None
    ):
        raise Invalid({"accompanied_by_person_id": ["No such person."]})


def _load_people(ids) -> dict[uuid.UUID, Person]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(wanted)))}


def _load_users(ids) -> dict[uuid.UUID, User]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))}


def remove_member(actor: User, evacuation_id: uuid.UUID, person_id: uuid.UUID) -> Evacuation:
    """Take a person out of a planned evacuation; the answer is the evacuation (a look)."""
    evacuation = _locked(actor, evacuation_id)
    _require_status(evacuation, "planned", "change its members")
    member = next((m for m in evacuation.members if m.person_id == person_id), None)
    if member is None:
        raise NotFound("This person is not a member of the evacuation.")
    dependants = [
        m.person_id for m in evacuation.members if m.accompanied_by_person_id == person_id
    ]
    if dependants:
        people = _load_people(dependants)
        raise _refused(
            "unaccompanied_child",
            "Children in this evacuation go with this person; change that first.",
            [
                Reason(
                    "unaccompanied_child",
                    f"{people[d].full_name} would be left without the adult who accompanies them.",
                    d,
                )
                for d in dependants
            ],
        )
    db.session.delete(member)
    _touch(evacuation)
    db.session.flush()
    db.session.refresh(evacuation, attribute_names=["members"])
    return _shown(actor, evacuation, "remove_evacuation_member")


# --- departure and arrival ---------------------------------------------------------------


def depart(actor: User, evacuation_id: uuid.UUID) -> Evacuation:
    """Everyone is checked again, under lock; one blocked person stops the departure."""
    evacuation = _locked(actor, evacuation_id)
    _require_status(evacuation, "planned", "depart")
    if not evacuation.members:
        raise Conflict("Nobody is in this evacuation.", code="invalid_transition")
    persons = lock_persons([m.person_id for m in evacuation.members])
    escorts = _load_users([m.escort_user_id for m in evacuation.members])
    reasons: list[Reason] = []
    for member in evacuation.members:
        person = persons[member.person_id]
        reasons.extend(evaluate_eligibility(person).reasons)
        problem = _accompaniment_problem(evacuation, person, member, persons, escorts)
        if problem is not None:
            reasons.append(problem)
    if reasons:
        raise _refused(
            "departure_blocked",
            "The evacuation cannot depart: some members may not leave now. Nothing changed.",
            reasons,
        )
    evacuation.status = "departed"
    evacuation.departed_at = utcnow()
    db.session.flush()
    return _shown(actor, evacuation, "depart")


def arrive(actor: User, evacuation_id: uuid.UUID) -> Evacuation:
    """Members are evacuated; a household with nobody left is evacuated (through the
    households' lifecycle; one a coordinator has closed stays closed); its accepted housing
    is occupied. Each through its own domain's service, in the lock order: the evacuation,
    its people, their households, then the offers."""
    evacuation = _locked(actor, evacuation_id)
    _require_status(evacuation, "departed", "arrive")
    household_ids = record_arrival(actor, [m.person_id for m in evacuation.members])
    housing.occupy_accepted_offers(actor, household_ids)
    evacuation.status = "arrived"
    evacuation.arrived_at = utcnow()
    db.session.flush()
    return _shown(actor, evacuation, "arrive")


def cancel(actor: User, evacuation_id: uuid.UUID) -> Evacuation:
    evacuation = _locked(actor, evacuation_id)
    _require_status(evacuation, "planned", "be cancelled")
    evacuation.status = "cancelled"
    evacuation.cancelled_at = utcnow()
    db.session.flush()
    return _shown(actor, evacuation, "cancel")
