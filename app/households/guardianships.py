"""The children's guardians: who may decide for a child, linked, read and changed.

A link is written under its child's person lock (and its guardian's, for one on record),
so every writer of a child's links waits for the others (the lock order:
``app.households.scope.lock_persons``). A guardian recorded deceased or missing takes
their active links with them (``follow_guardian_status``). Functions flush; the request or
command commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import CASE_ROLES, require_household, require_person, require_role
from app.db import ensure_new_id
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.households.models import Guardianship, Household, Person, today
from app.households.scope import get_person, household_scope, lock_persons, person_scope
from app.web.pagination import page

#: A guardian recorded as deceased or missing can no longer act for a child.
LOST_STATUSES = ("deceased", "missing")
#: A child's guardians in the order they were linked.
OLDEST_LINK_FIRST = [(Guardianship.created_at, False), (Guardianship.id, False)]


def list_guardians(actor: User, person_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of a child's guardians, the child loaded within the actor's scope (404
    outside it); the links shown count as looked at."""
    child = get_person(actor, person_id)
    stmt = sa.select(Guardianship).where(Guardianship.child_id == child.id)
    return page(stmt, OLDEST_LINK_FIRST, args, seen=saw_guardians)


def add_guardian(actor: User, child_id: uuid.UUID, data: dict) -> Guardianship:
    """Link a guardian to a child, under the locks of both (see ``lock_persons``)."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    child = get_person(actor, child_id)
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
    guardian = None if guardian_id is None else _guardian_on_record(actor, child, data, day)
    legal_status = data.get("legal_status", "active")
    if guardian is not None and guardian.status in LOST_STATUSES and legal_status == "active":
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
    db.session.flush()
    _guardianships_seen([link], "add_guardian", actor)
    return link


def _guardian_on_record(actor: User, child: Person, data: dict, day: dt.date) -> Person:
    """The guardian ``data`` names on record: an adult of the child's household, not the
    child, not linked to the child already; their contact is on their own record."""
    guardian_id = data["guardian_person_id"]
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
        raise Invalid({"external_contact": ["Contact details go on the guardian's person record."]})
    duplicate = db.session.scalar(
        sa.select(Guardianship.id).where(
            Guardianship.child_id == child.id,
            Guardianship.guardian_person_id == guardian_id,
        )
    )
    if duplicate is not None:
        raise Conflict("This guardian is already linked to the child.", code="duplicate_link")
    return guardian


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
    guardianship_id: uuid.UUID,
    changes: dict,
    *,
    precondition: Callable[[Guardianship], None] | None = None,
) -> Guardianship:
    """Change a link; the answer shows it, its child and guardian (a look, recorded).
    ``precondition`` (the If-Match check) sees the link as it is under its child's lock."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    link = get_guardianship(actor, guardianship_id)
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
    was_parent = link.is_parent
    for field in ("relationship", "legal_status", "external_name", "external_contact"):
        if field in changes:
            setattr(link, field, changes[field])
    if was_parent and not link.is_parent and actor.role != COORDINATOR:
        # a parent who can no longer decide loses their say, refusals included
        raise Forbidden(
            "Only a coordinator can record that a parent can no longer decide for a child.",
            code="coordinator_required",
        )
    db.session.flush()
    return link


def follow_guardian_status(actor: User, guardian: Person) -> None:
    """A parent who died or went missing is no longer a parent who can decide: their
    active links follow their status, so a child may need the social services instead.
    Called by ``app.households.persons.update_person`` once ``guardian`` is recorded so,
    under the locks of the guardian and their children."""
    require_household(actor, guardian.household_id, what="person")
    links = db.session.scalars(
        sa.select(Guardianship).where(
            Guardianship.guardian_person_id == guardian.id, Guardianship.legal_status == "active"
        )
    ).all()
    for link in links:
        _change_guardianship(actor, link, {"legal_status": guardian.status})
