"""Visits: the teams' repeated visits to a household. Functions flush; the request commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.auth.models import User
from app.db import ensure_new_id, utcnow
from app.errors import Invalid
from app.extensions import db
from app.households.lifecycle import change_household_status
from app.households.models import Household, Person
from app.households.scope import get_household, lock_household
from app.visits.models import CONVERSATION_OUTCOMES, Visit, VisitStance
from app.web.pagination import page

#: How far ahead of the server's clock a device's clock may run.
CLOCK_SKEW = dt.timedelta(minutes=10)


def log_visit(actor: User, household_id: uuid.UUID, data: dict) -> Visit:
    """Record a visit; the household's last visit, next visit due and status follow.

    The household is locked first (visits may arrive out of order, offline): two visits
    logged at once each see the other's dates.
    """
    household = lock_household(actor, household_id)
    now = utcnow()
    # the device's calendar day of the visit; stored and answered in UTC like every time
    visit_day = data["visited_at"].date()
    visited_at: dt.datetime = data["visited_at"].astimezone(dt.UTC)
    if visited_at > now + CLOCK_SKEW:
        raise Invalid({"visited_at": ["A visit cannot be in the future."]})
    next_visit_on = data.get("next_visit_on")
    if next_visit_on is not None and next_visit_on < visit_day:
        raise Invalid({"next_visit_on": ["The next visit cannot be before this one."]})
    stances = data.get("stances") or []
    _check_stances(household, stances)

    visit = Visit(
        id=ensure_new_id(Visit, data.get("id")),
        household_id=household.id,
        visited_at=visited_at,
        recorded_by=actor.id,
        outcome=data["outcome"],
        concerns=sorted(set(data.get("concerns") or [])),
        safety=data.get("safety"),
        way_out=data.get("way_out"),
        next_visit_on=next_visit_on,
        notes=data.get("notes"),
    )
    visit.stances = [
        VisitStance(person_id=s["person_id"], position=i, stance=s["stance"], note=s.get("note"))
        for i, s in enumerate(stances)
    ]
    db.session.add(visit)

    if household.last_visit_at is None or visited_at >= household.last_visit_at:
        household.last_visit_at = visited_at
        household.next_visit_due = next_visit_on
    if household.status == "identified" and visit.outcome in CONVERSATION_OUTCOMES:
        change_household_status(actor, household.id, "engaging", cause="visit")
    db.session.flush()
    saw_visits([visit], via="log_visit", actor=actor)
    return visit


def _check_stances(household: Household, stances: list[dict]) -> None:
    person_ids = [s["person_id"] for s in stances]
    errors: dict[int, dict] = {}
    seen: set[uuid.UUID] = set()
    for index, person_id in enumerate(person_ids):
        if person_id in seen:
            errors[index] = {"person_id": ["This person is listed twice."]}
        seen.add(person_id)
    members = set(
        db.session.scalars(
            sa.select(Person.id).where(
                Person.household_id == household.id, Person.id.in_(person_ids)
            )
        )
    )
    for index, person_id in enumerate(person_ids):
        if person_id not in members:
            errors[index] = {"person_id": ["Not a member of this household."]}
    if errors:
        raise Invalid({"stances": errors})


#: A household's visits, the latest first.
LATEST_FIRST = [(Visit.visited_at, True), (Visit.id, True)]


def list_visits(actor: User, household_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of a household's visits, loaded within the actor's scope (404 outside it);
    the visits shown count as looked at."""
    household = get_household(actor, household_id)
    stmt = sa.select(Visit).where(Visit.household_id == household.id)
    return page(stmt, LATEST_FIRST, args, load=load_visits, seen=saw_visits)


def load_visits(stmt: sa.Select) -> list[Visit]:
    return list(db.session.scalars(stmt.options(selectinload(Visit.stances))))


def saw_visits(visits: list[Visit], via: str = "visits", actor: User | None = None) -> None:
    """Visits were shown (a page, or the one just logged): the household, and each person
    whose stance and note it records, count as looked at."""
    audit.record_reads(
        [
            *(("households", visit.household_id) for visit in visits),
            *(("persons", stance.person_id) for visit in visits for stance in visit.stances),
        ],
        actor_id=actor.id if actor else None,
        via=via,
    )
