"""What an actor reaches of households and their people, and the row locks taken on them.

Scope (DESIGN §2): a field worker sees only the households of their own team and what is
under them; a coordinator sees everything. What is out of scope is "not found". Every
domain that acts on a household or a person loads it here, and locks it here: the lock
order of the whole service is written down at ``lock_persons``.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.auth.models import COORDINATOR, FIELD_WORKER, User
from app.auth.permissions import CASE_ROLES, require_role
from app.errors import NotFound
from app.extensions import db
from app.households.models import Household, Person


def household_scope(actor: User) -> sa.ColumnElement[bool]:
    """The households ``actor`` may see, as a WHERE clause."""
    if actor.role == COORDINATOR:
        return sa.true()
    if actor.role == FIELD_WORKER:
        return Household.team_id == actor.team_id
    return sa.false()


def person_scope(actor: User) -> sa.Select:
    """The people ``actor`` may see: those of the households in their scope."""
    return (
        sa.select(Person)
        .join(Household, Household.id == Person.household_id)
        .where(household_scope(actor))
    )


def get_household(actor: User, household_id: uuid.UUID, *, for_update: bool = False) -> Household:
    stmt = sa.select(Household).where(Household.id == household_id, household_scope(actor))
    if for_update:
        stmt = stmt.with_for_update()
    household = db.session.scalar(stmt)
    if household is None:
        raise NotFound("No such household.")
    return household


def lock_household(
    actor: User, household_id: uuid.UUID, *, doing: str = "change case data"
) -> Household:
    """A household to change, locked (FOR UPDATE, step 4 of the lock order): 403 for a role
    that changes no case data (``doing`` says what it may not do), 404 outside the actor's
    scope, as when it is read."""
    require_role(actor, *CASE_ROLES, doing=doing)
    return get_household(actor, household_id, for_update=True)


def get_person(actor: User, person_id: uuid.UUID) -> Person:
    person = db.session.scalar(person_scope(actor).where(Person.id == person_id))
    if person is None:
        raise NotFound("No such person.")
    return person


def lock_persons(person_ids) -> dict[uuid.UUID, Person]:
    """Lock these people's rows: all in one call, in id order, FOR NO KEY UPDATE.

    THE LOCK ORDER. Whatever reads the eligibility rule's inputs to act on them (adding
    a member, departing, arriving) or changes them (a consent, a refusal, a revocation, a
    review, a guardian link, a person's status or age) takes its row locks in this order,
    skipping steps it does not need and never going back to an earlier one:

    1. the evacuation (FOR UPDATE): the evacuation steps, each taken by the step itself;
    2. persons, here, every person the unit of work concerns in this one call (a child
       and the guardian together), before anything of theirs is read to decide;
    3. what hangs on those persons: guardianships, then consent records (FOR NO KEY
       UPDATE), and only with their persons locked. Every writer of a consent or a
       guardianship holds its child's person lock, so that lock already serialises them;
    4. households (FOR UPDATE, in id order): an arrival's emptied households
       (``app.households.lifecycle.record_arrival``);
    5. housing offers, then their proposals (FOR UPDATE): an arrival's through
       ``app.housing.service.occupy_accepted_offers``;
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
