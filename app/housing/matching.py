"""Matching offers to a household: the available ones that fit its present members and
its needs, the best first."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import User
from app.db import utcnow
from app.extensions import db
from app.households.models import Household, Person
from app.households.scope import get_household
from app.housing.models import HousingOffer
from app.housing.service import load_offers, saw_offers
from app.web.pagination import page

#: Needing help to walk means needing a step-free home.
NEEDS_STEP_FREE = ("walks_with_help", "cannot_walk")


def list_matches(actor: User, household_id: uuid.UUID, args: Mapping[str, Any]) -> dict[str, Any]:
    """A page of the offers that fit a household, best first; the household is loaded
    within the actor's scope (404 outside it), and it and the offers shown count as
    looked at."""
    household = get_household(actor, household_id)
    return page(
        _matches_query(household),
        BEST_FIRST,
        args,
        load=load_offers,
        seen=partial(_saw_matches, household),
    )


def _matches_query(household: Household) -> sa.Select:
    """Available offers that fit the household's present members and needs."""
    present = (
        db.session.execute(
            sa.select(Person.mobility).where(
                Person.household_id == household.id, Person.status == "present"
            )
        )
        .scalars()
        .all()
    )
    today = utcnow().date()
    stmt = sa.select(HousingOffer).where(
        HousingOffer.status == "available",
        HousingOffer.free_capacity >= max(len(present), 1),
        sa.or_(HousingOffer.available_until.is_(None), HousingOffer.available_until >= today),
    )
    if any(mobility in NEEDS_STEP_FREE for mobility in present):
        stmt = stmt.where(HousingOffer.step_free.is_(True))
    if "rent_money" in (household.needs or []):
        stmt = stmt.where(HousingOffer.monthly_rent == 0)
    if "pets" in (household.needs or []):
        stmt = stmt.where(HousingOffer.pets_allowed.is_(True))
    return stmt


def _saw_matches(household: Household, offers: list[HousingOffer]) -> None:
    """Offers matched to a household were shown: the household (whose needs and people
    chose them) and each offer count as looked at."""
    if not offers:
        return
    audit.record_read("households", [household.id], via="housing_matches")
    saw_offers(offers, via="housing_matches")


#: The best match leaves the fewest places empty, then costs least.
BEST_FIRST = [
    (HousingOffer.free_capacity, False),
    (HousingOffer.monthly_rent, False),
    (HousingOffer.id, False),
]
