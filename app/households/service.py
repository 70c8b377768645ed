"""Households, their members and the children's guardians.

Scope (DESIGN §2): a field worker sees only the households of their own team and what is
under them; a coordinator sees everything. What is out of scope is "not found".
Functions flush; the request or command commits.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import COORDINATOR, FIELD_WORKER, Team, User
from app.auth.permissions import (
    CASE_ROLES,
    require_household,
    require_person,
    require_role,
    require_team,
)
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.households.models import (
    ADULT_AGE,
    CLOSE_REASONS,
    HOUSEHOLD_STATUSES,
    MAX_AGE,
    Guardianship,
    Household,
    Person,
    today,
    years_before,
)
from app.timeline.service import record_entry

REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to say over a radio
EDITABLE_HOUSEHOLD_FIELDS = (
    "locality",
    "district",
    "address_description",
    "latitude",
    "longitude",
    "priority",
    "needs",
    "contact_phone",
    "notes",
)
#: Person statuses a client may set; `evacuated` is set only by an evacuation's arrival.
SETTABLE_PERSON_STATUSES = ("present", "left", "missing", "deceased")


# --- scope -------------------------------------------------------------------------------


def household_scope(actor: User) -> sa.ColumnElement[bool]:
    """The households ``actor`` may see, as a WHERE clause."""
    if actor.role == COORDINATOR:
        return sa.true()
    if actor.role == FIELD_WORKER:
        return Household.team_id == actor.team_id
    return sa.false()


def _counts(day: dt.date) -> tuple[sa.ScalarSelect, sa.ScalarSelect]:
    present = sa.and_(Person.household_id == Household.id, Person.status == "present")
    members = sa.select(sa.func.count(Person.id)).where(present).scalar_subquery()
    children = (
        sa.select(sa.func.count(Person.id))
        .where(present, Person.date_of_birth > years_before(day, ADULT_AGE))
        .scalar_subquery()
    )
    return members, children


def households_with_counts(stmt: sa.Select) -> list[Household]:
    """Run a SELECT of households adding member and child counts, in one query."""
    members, children = _counts(today())
    rows = db.session.execute(stmt.add_columns(members, children)).all()
    result = []
    for household, member_count, child_count in rows:
        household.member_count = member_count
        household.child_count = child_count
        result.append(household)
    return result


def get_household(actor: User, household_id: uuid.UUID, *, for_update: bool = False) -> Household:
    stmt = sa.select(Household).where(Household.id == household_id, household_scope(actor))
    if for_update:
        stmt = stmt.with_for_update()
    household = db.session.scalar(stmt)
    if household is None:
        raise NotFound("No such household.")
    return household


def load_counts(household: Household) -> Household:
    members, children = _counts(today())
    household.member_count, household.child_count = db.session.execute(
        sa.select(members, children).select_from(Household).where(Household.id == household.id)
    ).one()
    return household


def read_household(actor: User, household_id: uuid.UUID) -> Household:
    """A household's record, as someone looks at it (the look is audited)."""
    return _saw_household(actor, load_counts(get_household(actor, household_id)), "household")


def _saw_household(actor: User, household: Household, via: str) -> Household:
    """A household's record is in an answer (a change's, too): it counts as looked at."""
    audit.record_read("households", [household.id], actor_id=actor.id, via=via)
    return household


def _name_matches(term: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(Person.full_name).contains(term, autoescape=True)


def saw_households(households: list[Household], *, q: str | None = None) -> None:
    """A page of households was shown: each counts as looked at. A search by name also
    showed who is called that (a person called X lives at address Y): the members of
    those households whose names matched count as looked at too (one query)."""
    audit.record_read("households", [h.id for h in households], via="households")
    term = (q or "").strip().lower()
    if term and households:  # a blank search matched no one in particular
        matched = db.session.scalars(
            sa.select(Person.id)
            .where(Person.household_id.in_([h.id for h in households]), _name_matches(term))
            .order_by(Person.id)
        )
        audit.record_read("persons", matched, via="households_search")


def list_households_query(
    actor: User,
    *,
    status: str | None = None,
    priority: str | None = None,
    team_id: uuid.UUID | None = None,
    q: str | None = None,
    visit_overdue: bool | None = None,
) -> sa.Select:
    stmt = sa.select(Household).where(household_scope(actor))
    if visit_overdue is not None:
        overdue = Household.next_visit_due < today()
        stmt = stmt.where(
            overdue if visit_overdue else sa.or_(~overdue, Household.next_visit_due.is_(None))
        )
    if status:
        stmt = stmt.where(Household.status == status)
    if priority:
        stmt = stmt.where(Household.priority == priority)
    if team_id:
        stmt = stmt.where(Household.team_id == team_id)
    if q:
        term = q.strip().lower()
        named = (
            sa.select(Person.id)
            .where(Person.household_id == Household.id, _name_matches(term))
            .exists()
        )
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Household.ref).contains(term, autoescape=True),
                sa.func.lower(Household.locality).contains(term, autoescape=True),
                named,
            )
        )
    return stmt


# --- households --------------------------------------------------------------------------


def _new_ref() -> str:
    for _ in range(20):
        raw = "".join(secrets.choice(REF_ALPHABET) for _ in range(6))
        ref = f"{raw[:3]}-{raw[3:]}"
        if db.session.scalar(sa.select(Household.id).where(Household.ref == ref)) is None:
            return ref
    raise Conflict("Could not find a free household reference; try again.")  # pragma: no cover


def _team_for(actor: User, requested: uuid.UUID | None, requested_given: bool) -> uuid.UUID | None:
    if actor.role == FIELD_WORKER:
        if requested_given and requested != actor.team_id:
            raise Invalid({"team_id": ["Only a coordinator assigns households to other teams."]})
        return actor.team_id
    if requested is not None and db.session.get(Team, requested) is None:
        raise Invalid({"team_id": ["No such team."]})
    return requested


def create_household(actor: User, data: dict) -> Household:
    require_role(actor, *CASE_ROLES, doing="record households")
    team_id = _team_for(actor, data.get("team_id"), "team_id" in data)
    household = Household(
        id=ensure_new_id(Household, data.get("id")),
        ref=_new_ref(),
        team_id=team_id,
        **{k: data[k] for k in EDITABLE_HOUSEHOLD_FIELDS if k in data},
    )
    if household.needs:
        household.needs = sorted(set(household.needs))
    db.session.add(household)
    db.session.flush()
    return _saw_household(actor, load_counts(household), "create_household")


def update_household(actor: User, household: Household, changes: dict) -> Household:
    require_team(actor, household.team_id, what="household")
    if "team_id" in changes:
        household.team_id = _team_for(actor, changes["team_id"], True)
    for field in EDITABLE_HOUSEHOLD_FIELDS:
        if field in changes:
            setattr(household, field, changes[field])
    if "needs" in changes:
        household.needs = sorted(set(changes["needs"]))
    db.session.flush()
    return _saw_household(actor, load_counts(household), "update_household")


# --- the household's lifecycle (DESIGN §10) ----------------------------------------------

_TEAMS = frozenset({FIELD_WORKER, COORDINATOR})
_COORDINATORS = frozenset({COORDINATOR})
_OPEN = ("identified", "engaging", "ready", "evacuated", "declined")
#: Every move a person may make, and whose it is. Field workers move their team's households
#: among engaging, ready and declined; coordinators also close (with a reason) and re-open
#: (the team takes the case up again). Anything else is an invalid transition.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("identified", "engaging"): _TEAMS,
    ("identified", "declined"): _TEAMS,
    ("engaging", "ready"): _TEAMS,
    ("engaging", "declined"): _TEAMS,
    ("ready", "engaging"): _TEAMS,
    ("ready", "declined"): _TEAMS,
    ("declined", "engaging"): _TEAMS,
    ("declined", "ready"): _TEAMS,
    **{(status, "closed"): _COORDINATORS for status in _OPEN},
    ("closed", "engaging"): _COORDINATORS,
    ("evacuated", "engaging"): _COORDINATORS,
}
#: Moves only an evacuation's arrival makes: nobody of the household is left behind.
ARRIVAL_MOVES = frozenset(
    (status, "evacuated") for status in ("identified", "engaging", "ready", "declined")
)
#: What moves a household: a person's decision, a logged visit, an evacuation's arrival.
CAUSES = ("request", "visit", "arrival")


def _invalid_transition(detail: str) -> Conflict:
    return Conflict(detail, code="invalid_transition")


def change_household_status(
    actor: User,
    household_id: uuid.UUID,
    status: str,
    reason: str | None = None,
    *,
    note: str | None = None,
    cause: str = "request",
    precondition: Callable[[Household], None] | None = None,
) -> Household:
    """Move a household along its lifecycle: the one place a household's status changes.

    The move must be in ``TRANSITIONS`` and the actor's role among those it names, or it is
    refused: 409 ``invalid_transition``, 403 for a role the move is not for, 404 for a
    household outside the actor's scope. Closing takes one of ``CLOSE_REASONS`` and an
    optional note (personal: the audit trail names it, never its words); re-opening clears
    both. ``evacuated`` is reached only with ``cause="arrival"``, from the evacuation step.
    The row is locked (then ``precondition``, e.g. an If-Match check, sees it), it changes
    (and so does its ETag), and the household's timeline says who moved it from what to what,
    and why; the audit event comes from the flush. Moved at a person's request, the
    household is the answer: a look at it is recorded too.
    """
    if cause not in CAUSES:
        raise ValueError(f"unknown cause of a status change: {cause!r}")
    require_role(actor, *CASE_ROLES, doing="move a household along its lifecycle")
    if status not in HOUSEHOLD_STATUSES:
        raise Invalid({"status": [f"Must be one of: {', '.join(HOUSEHOLD_STATUSES)}."]})
    # a caller's pending changes to the household (a visit's dates) go out with this one:
    # one UPDATE, one new version
    with db.session.no_autoflush:
        household = get_household(actor, household_id, for_update=True)
    if precondition is not None:
        precondition(household)
    before = household.status
    move = (before, status)
    if cause == "arrival":
        if actor.role != COORDINATOR:
            raise Forbidden("Evacuations are run by coordinators.", code="coordinator_required")
        if move not in ARRIVAL_MOVES:
            raise _invalid_transition(f"A household that is {before} cannot become {status}.")
    elif status == "evacuated":
        raise _invalid_transition(
            "A household becomes evacuated only when an evacuation arrives with the last of "
            "its members."
        )
    elif move not in TRANSITIONS:
        raise _invalid_transition(
            f"The household is already {before}."
            if before == status
            else f"A household that is {before} cannot become {status}."
        )
    elif actor.role not in TRANSITIONS[move]:
        raise Forbidden(
            "Only a coordinator closes or re-opens a household.", code="coordinator_required"
        )
    note = (note or "").strip() or None
    if status == "closed":
        if reason is None:
            raise Invalid(
                {"reason": [f"Say why the household is closed: {', '.join(CLOSE_REASONS)}."]}
            )
        if reason not in CLOSE_REASONS:
            raise Invalid({"reason": [f"Must be one of: {', '.join(CLOSE_REASONS)}."]})
        if reason == "evacuated_and_arrived" and before != "evacuated":
            raise _invalid_transition(
                "Only an evacuated household is closed as evacuated and arrived."
            )
    elif reason is not None:
        raise Invalid({"reason": ["A reason is given only when closing a household."]})
    elif note is not None:
        raise Invalid({"note": ["A note is given only when closing a household."]})

    household.status = status
    if status == "closed":
        household.closed_reason, household.closed_note = reason, note
    elif before == "closed":
        household.closed_reason = household.closed_note = None
    details = {"from": before, "to": status, "cause": cause}
    if reason is not None:
        details["reason"] = reason
    record_entry(
        household_id=household.id,
        occurred_at=utcnow(),
        kind="status_changed",
        entity_type="household",
        entity_id=household.id,
        actor=actor,
        details=details,
    )
    db.session.flush()
    load_counts(household)
    if cause == "request":
        _saw_household(actor, household, "household_status")
    return household


# --- persons -----------------------------------------------------------------------------


def person_scope(actor: User) -> sa.Select:
    return (
        sa.select(Person)
        .join(Household, Household.id == Person.household_id)
        .where(household_scope(actor))
    )


def lock_persons(person_ids) -> dict[uuid.UUID, Person]:
    """Lock these people's rows: all in one call, in id order, FOR NO KEY UPDATE.

    THE LOCK ORDER. Whatever reads the eligibility rule's inputs to act on them (adding
    a member, departing, arriving) or changes them (a consent, a refusal, a revocation, a
    review, a guardian link, a person's status or age) takes its row locks in this order,
    skipping steps it does not need and never going back to an earlier one:

    1. the evacuation (FOR UPDATE): the evacuation steps, taken by the view;
    2. persons, here, every person the unit of work concerns in this one call (a child
       and the guardian together), before anything of theirs is read to decide;
    3. what hangs on those persons: guardianships, then consent records (FOR NO KEY
       UPDATE), and only with their persons locked. Every writer of a consent or a
       guardianship holds its child's person lock, so that lock already serialises them;
    4. households (FOR UPDATE, in id order): an arrival's emptied households;
    5. housing offers, then their proposals (FOR UPDATE);
    6. at commit: the stored eligibility answers of persons locked in step 2, then the
       audit chain's append lock.

    Household-only paths (visits, edits, status, housing) start at step 4. Nothing takes a
    consent or a guardianship before its person: a revocation that locked the consent
    (FOR UPDATE) and then the person deadlocked with adding a member, which locks the
    person and then needs the consent for its foreign key (FOR KEY SHARE), and the
    database killed one of them. NO KEY UPDATE, here and in step 3, lets rows that merely
    refer to a locked row (a member's consent, a visit's stances) be inserted meanwhile.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(Person)
        .where(Person.id.in_(ids))
        .order_by(Person.id)
        .with_for_update(key_share=True)
        # what was read before waiting for the lock may have changed meanwhile
        .execution_options(populate_existing=True)
    )
    return {person.id: person for person in rows}


def get_person(actor: User, person_id: uuid.UUID) -> Person:
    person = db.session.scalar(person_scope(actor).where(Person.id == person_id))
    if person is None:
        raise NotFound("No such person.")
    return person


def read_person(actor: User, person_id: uuid.UUID) -> Person:
    """A person's record, as someone looks at it (the look is audited)."""
    return _saw_person(actor, get_person(actor, person_id), "person")


def saw_members(people: list[Person]) -> None:
    """A page of a household's members was shown: each counts as looked at."""
    audit.record_read("persons", [p.id for p in people], via="members")


def _saw_person(actor: User, person: Person, via: str) -> Person:
    """A person's record is in an answer (a change's, too): it counts as looked at."""
    audit.record_read("persons", [person.id], actor_id=actor.id, via=via)
    return person


def list_members_query(actor: User, household: Household) -> sa.Select:
    return person_scope(actor).where(Person.household_id == household.id)


def _birth_date(data: dict, day: dt.date) -> tuple[dt.date, bool] | None:
    """The birth date from ``date_of_birth`` or ``estimated_age``; None when neither."""
    if "date_of_birth" in data and "estimated_age" in data:
        raise Invalid({"estimated_age": ["Give a date of birth or an estimated age, not both."]})
    if data.get("date_of_birth") is not None:
        if data["date_of_birth"] > day:
            raise Invalid({"date_of_birth": ["A birth date cannot be in the future."]})
        if data["date_of_birth"] <= years_before(day, MAX_AGE + 1):
            raise Invalid({"date_of_birth": [f"Nobody here is older than {MAX_AGE}."]})
        return data["date_of_birth"], False
    if data.get("estimated_age") is not None:
        # midway through the estimated year of age: "about 7" is 7½ today
        born = years_before(day, data["estimated_age"]) - dt.timedelta(days=182)
        return born, True
    if "date_of_birth" in data or "estimated_age" in data:
        raise Invalid({"date_of_birth": ["A person needs a birth date or an estimated age."]})
    return None


def _check_settable_status(status: str | None) -> None:
    if status is not None and status not in SETTABLE_PERSON_STATUSES:
        raise Invalid(
            {"status": ["A person becomes evacuated only when their evacuation arrives."]}
        )


def add_member(actor: User, household: Household, data: dict) -> Person:
    require_team(actor, household.team_id, what="household")
    born = _birth_date(data, today())
    if born is None:
        raise Invalid({"date_of_birth": ["Give a date of birth or an estimated age."]})
    _check_settable_status(data.get("status"))
    person = Person(
        id=ensure_new_id(Person, data.get("id")),
        household_id=household.id,
        full_name=data["full_name"].strip(),
        date_of_birth=born[0],
        dob_estimated=born[1],
        **{k: data[k] for k in ("sex", "status", "mobility", "medical_notes") if k in data},
    )
    db.session.add(person)
    db.session.flush()
    return _saw_person(actor, person, "add_member")


def update_person(
    actor: User,
    person: Person,
    changes: dict,
    *,
    precondition: Callable[[Person], None] | None = None,
) -> Person:
    """Change a person's record, under their lock (see ``lock_persons``): recorded deceased
    or missing, the children whose links follow them are locked with them, in one call.
    ``precondition`` (the If-Match check) sees the person as the lock found them."""
    require_household(actor, person.household_id, what="person")
    db.session.flush()  # the caller's own pending changes are not someone else's
    if changes.get("status") in LOST_STATUSES:
        _lock_guardian_and_children(person.id)
    else:
        lock_persons([person.id])
    if precondition is not None:
        precondition(person)
    if person.status == "evacuated" and changes.get("status", "evacuated") != "evacuated":
        raise Conflict(
            "This person has been evacuated; their status no longer changes here.",
            code="invalid_transition",
        )
    if "status" in changes and changes["status"] != person.status:
        _check_settable_status(changes["status"])
    born = _birth_date(changes, today())
    if born is not None:
        was_child = person.is_child
        person.date_of_birth, person.dob_estimated = born
        if person.is_child:
            _refuse_if_guardian(person)
        elif was_child and actor.role != COORDINATOR:
            # a child made an adult would decide for themselves: a second look first
            raise Forbidden(
                "Only a coordinator can change a child's age to 18 or over.",
                code="coordinator_required",
            )
    if "full_name" in changes:
        person.full_name = changes["full_name"].strip()
    becomes_absent = changes.get("status") in LOST_STATUSES and person.status != changes["status"]
    for field in ("sex", "status", "mobility", "medical_notes"):
        if field in changes:
            setattr(person, field, changes[field])
    if becomes_absent:
        _follow_guardian_status(actor, person)
    db.session.flush()
    return _saw_person(actor, person, "update_person")


#: A guardian recorded as deceased or missing can no longer act for a child.
LOST_STATUSES = ("deceased", "missing")


def _lock_guardian_and_children(guardian_id: uuid.UUID) -> None:
    """Lock a guardian and every child linked to them, in one ``lock_persons`` call.

    A link to them added while this waited (``add_guardian`` holds the guardian's lock
    too) shows on the second look: then the locks are given back (the savepoint) and taken
    again with that child, still all at once and in order, never out of it.
    """
    children_of = sa.select(Guardianship.child_id).where(
        Guardianship.guardian_person_id == guardian_id
    )
    while True:
        children = set(db.session.scalars(children_of))
        savepoint = db.session.begin_nested()
        lock_persons([guardian_id, *children])
        if set(db.session.scalars(children_of)) <= children:
            savepoint.commit()
            return
        savepoint.rollback()


def _follow_guardian_status(actor: User, guardian: Person) -> None:
    """A parent who died or went missing is no longer a parent who can decide: their
    active links follow their status, so a child may need the social services instead."""
    links = db.session.scalars(
        sa.select(Guardianship).where(
            Guardianship.guardian_person_id == guardian.id, Guardianship.legal_status == "active"
        )
    ).all()
    for link in links:
        _change_guardianship(actor, link, {"legal_status": guardian.status})


def _refuse_if_guardian(person: Person) -> None:
    guards = db.session.scalar(
        sa.select(sa.func.count(Guardianship.id)).where(
            Guardianship.guardian_person_id == person.id
        )
    )
    if guards:
        raise Invalid(
            {"date_of_birth": ["This person is recorded as a guardian; a guardian is an adult."]}
        )


# --- guardianships -----------------------------------------------------------------------


def list_guardians_query(actor: User, child: Person) -> sa.Select:
    return sa.select(Guardianship).where(Guardianship.child_id == child.id)


def add_guardian(actor: User, child: Person, data: dict) -> Guardianship:
    require_household(actor, child.household_id, what="person")
    guardian_id = data.get("guardian_person_id")
    # the guardian with the child (one call, see lock_persons): a guardian recorded
    # deceased meanwhile is seen so, and one being recorded so waits for this link
    lock_persons([child.id] if guardian_id is None else [child.id, guardian_id])
    day = today()
    if not child.is_child_on(day):
        raise Invalid({"child_id": ["Guardians are recorded for children (under 18) only."]})
    external_name = (data.get("external_name") or "").strip() or None
    if (guardian_id is None) == (external_name is None):
        raise Invalid(
            {
                "guardian_person_id": [
                    "Give either guardian_person_id (a person on record) or external_name."
                ]
            }
        )
    if guardian_id is not None:
        if guardian_id == child.id:
            raise Invalid({"guardian_person_id": ["A child cannot be their own guardian."]})
        guardian = db.session.scalar(person_scope(actor).where(Person.id == guardian_id))
        if guardian is None or guardian.household_id != child.household_id:
            raise Invalid(
                {
                    "guardian_person_id": [
                        "Not a member of the child's household; a guardian elsewhere is "
                        "recorded by external_name and external_contact."
                    ]
                }
            )
        if guardian.is_child_on(day):
            raise Invalid({"guardian_person_id": ["A guardian must be an adult (18 or over)."]})
        if data.get("external_contact"):
            raise Invalid(
                {"external_contact": ["Contact details go on the guardian's person record."]}
            )
        duplicate = db.session.scalar(
            sa.select(Guardianship.id).where(
                Guardianship.child_id == child.id,
                Guardianship.guardian_person_id == guardian_id,
            )
        )
        if duplicate is not None:
            raise Conflict("This guardian is already linked to the child.", code="duplicate_link")
    legal_status = data.get("legal_status", "active")
    if guardian_id is not None and guardian.status in LOST_STATUSES and legal_status == "active":
        legal_status = guardian.status  # a parent recorded as deceased cannot decide
    link = Guardianship(
        id=ensure_new_id(Guardianship, data.get("id")),
        child_id=child.id,
        guardian_person_id=guardian_id,
        external_name=external_name,
        external_contact=data.get("external_contact") if external_name else None,
        relationship=data["relationship"],
        legal_status=legal_status,
    )
    db.session.add(link)
    record_entry(
        household_id=child.household_id,
        occurred_at=utcnow(),
        kind="guardian_linked",
        entity_type="guardianship",
        entity_id=link.id,
        person_id=child.id,
        actor=actor,
        details={"relationship": link.relationship, "legal_status": link.legal_status},
    )
    db.session.flush()
    _guardianships_seen([link], "add_guardian", actor)
    return link


def _guardianships_seen(links: list[Guardianship], via: str, actor: User | None = None) -> None:
    """The links, the children and the guardians on record they name count as looked at."""
    audit.record_reads(
        [
            *(("guardianships", link.id) for link in links),
            *(("persons", link.child_id) for link in links),
            *(("persons", link.guardian_person_id) for link in links),
        ],
        actor_id=actor.id if actor else None,
        via=via,
    )


def saw_guardians(links: list[Guardianship]) -> None:
    """A page of a child's guardians was shown (an outside parent's name and contact)."""
    _guardianships_seen(links, "guardians")


def read_guardianship(actor: User, guardianship_id: uuid.UUID) -> Guardianship:
    """A guardianship link, as someone looks at it (the look is audited)."""
    link = get_guardianship(actor, guardianship_id)
    _guardianships_seen([link], "guardianship", actor)
    return link


def get_guardianship(actor: User, guardianship_id: uuid.UUID) -> Guardianship:
    child = sa.orm.aliased(Person)
    link = db.session.scalar(
        sa.select(Guardianship)
        .join(child, child.id == Guardianship.child_id)
        .join(Household, Household.id == child.household_id)
        .where(Guardianship.id == guardianship_id, household_scope(actor))
    )
    if link is None:
        raise NotFound("No such guardianship.")
    return link


def update_guardianship(
    actor: User,
    link: Guardianship,
    changes: dict,
    *,
    precondition: Callable[[Guardianship], None] | None = None,
) -> Guardianship:
    """Change a link; the answer shows it, its child and guardian (a look, recorded).
    ``precondition`` (the If-Match check) sees the link as it is under its child's lock."""
    _change_guardianship(actor, link, changes, precondition=precondition)
    _guardianships_seen([link], "update_guardianship", actor)
    return link


def _change_guardianship(
    actor: User,
    link: Guardianship,
    changes: dict,
    *,
    precondition: Callable[[Guardianship], None] | None = None,
) -> Guardianship:
    require_person(actor, link.child_id, what="guardianship")
    # the child's lock serialises every writer of their links (see lock_persons); a link
    # changed since the caller read it fails its version check when written (412)
    lock_persons([link.child_id])
    if precondition is not None:
        # read again under the lock: what was read before waiting may have changed meanwhile
        db.session.scalars(
            sa.select(Guardianship)
            .where(Guardianship.id == link.id)
            .execution_options(populate_existing=True)
        ).one()
        precondition(link)
    if link.guardian_person_id is not None:
        for field in ("external_name", "external_contact"):
            if changes.get(field) is not None:
                raise Invalid(
                    {field: ["This link is to a person on record; edit that person instead."]}
                )
    if link.guardian_person_id is None and "external_name" in changes:
        name = (changes["external_name"] or "").strip()
        if not name:
            raise Invalid({"external_name": ["An outside guardian needs a name."]})
        changes = {**changes, "external_name": name}
    tracked = ("relationship", "legal_status")
    before = {field: getattr(link, field) for field in tracked}
    was_parent = link.is_parent
    for field in ("relationship", "legal_status", "external_name", "external_contact"):
        if field in changes:
            setattr(link, field, changes[field])
    after = {field: getattr(link, field) for field in tracked}
    if was_parent and not link.is_parent and actor.role != COORDINATOR:
        # a parent who can no longer decide loses their say, refusals included
        raise Forbidden(
            "Only a coordinator can record that a parent can no longer decide for a child.",
            code="coordinator_required",
        )
    if before != after:
        household_id = db.session.scalar(
            sa.select(Person.household_id).where(Person.id == link.child_id)
        )
        record_entry(
            household_id=household_id,
            occurred_at=utcnow(),
            kind="guardianship_changed",
            entity_type="guardianship",
            entity_id=link.id,
            person_id=link.child_id,
            actor=actor,
            details={"before": before, "after": after},
        )
    db.session.flush()
    return link
