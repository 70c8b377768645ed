"""Households: their records, as the teams find, list, record and edit them.

Each function that changes something takes ids, checks its actor's role, loads within the
actor's scope and takes its locks itself (``app.households.scope``). The household's
status moves only through ``app.households.lifecycle``; its people are
``app.households.persons``, the children's guardians ``app.households.guardianships``.
Functions flush; the request or command commits.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import FIELD_WORKER, Team, User
from app.auth.permissions import CASE_ROLES, require_role
from app.db import ensure_new_id
from app.errors import Conflict, Invalid
from app.extensions import db
from app.households.models import ADULT_AGE, Household, Person, today, years_before
from app.households.scope import get_household, household_scope, lock_household

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


# --- reading -----------------------------------------------------------------------------


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


def load_counts(household: Household) -> Household:
    members, children = _counts(today())
    household.member_count, household.child_count = db.session.execute(
        sa.select(members, children).select_from(Household).where(Household.id == household.id)
    ).one()
    return household


def read_household(actor: User, household_id: uuid.UUID) -> Household:
    """A household's record, as someone looks at it (the look is audited)."""
    return saw_household(load_counts(get_household(actor, household_id)), "household", actor)


def saw_household(household: Household, via: str, actor: User) -> Household:
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


# --- recording and editing ---------------------------------------------------------------


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
    return saw_household(load_counts(household), "create_household", actor)


def update_household(
    actor: User,
    household_id: uuid.UUID,
    changes: dict,
    *,
    precondition: Callable[[Household], None] | None = None,
) -> Household:
    """Change a household's record under its lock; ``precondition`` (the If-Match check)
    sees it, with its counts, as the lock found it."""
    household = lock_household(actor, household_id)
    if precondition is not None:
        precondition(load_counts(household))
    if "team_id" in changes:
        household.team_id = _team_for(actor, changes["team_id"], True)
    for field in EDITABLE_HOUSEHOLD_FIELDS:
        if field in changes:
            setattr(household, field, changes[field])
    if "needs" in changes:
        household.needs = sorted(set(changes["needs"]))
    db.session.flush()
    return saw_household(load_counts(household), "update_household", actor)
