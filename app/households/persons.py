"""The people of a household: added, read and changed by the teams.

A person is read within the actor's scope and changed under their lock
(``app.households.scope.lock_persons``, which writes down the lock order). A person's
status moves here, except ``evacuated``: only an evacuation's arrival sets it
(``app.households.lifecycle.record_arrival``). A guardian recorded deceased or missing
takes their links to the children with them (``app.households.guardianships``).
Functions flush; the request or command commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import CASE_ROLES, require_household, require_role
from app.db import ensure_new_id
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.households.guardianships import LOST_STATUSES, follow_guardian_status
from app.households.models import MAX_AGE, Guardianship, Person, today, years_before
from app.households.scope import (
    get_household,
    get_person,
    lock_household,
    lock_persons,
    person_scope,
)
from app.unit_of_work import savepoint
from app.web.pagination import page

#: Person statuses a client may set; `evacuated` is set only by an evacuation's arrival.
SETTABLE_PERSON_STATUSES = ("present", "left", "missing", "deceased")
#: A household's members in the order they were recorded.
OLDEST_MEMBER_FIRST = [(Person.created_at, False), (Person.id, False)]


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


def list_members(actor: User, household_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of a household's members, loaded within the actor's scope (404 outside it);
    the members shown count as looked at."""
    household = get_household(actor, household_id)
    stmt = person_scope(actor).where(Person.household_id == household.id)
    return page(stmt, OLDEST_MEMBER_FIRST, args, seen=saw_members)


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


def add_member(actor: User, household_id: uuid.UUID, data: dict) -> Person:
    """Add a person to a household, under the household's lock."""
    household = lock_household(actor, household_id)
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
    person_id: uuid.UUID,
    changes: dict,
    *,
    precondition: Callable[[Person], None] | None = None,
) -> Person:
    """Change a person's record, under their lock (see ``lock_persons``): recorded deceased
    or missing, the children whose links follow them are locked with them, in one call.
    ``precondition`` (the If-Match check) sees the person as the lock found them."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    person = get_person(actor, person_id)
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
        follow_guardian_status(actor, person)
    db.session.flush()
    return _saw_person(actor, person, "update_person")


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
        with savepoint() as locks:
            lock_persons([guardian_id, *children])
            if set(db.session.scalars(children_of)) <= children:
                return
            locks.give_back()


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
