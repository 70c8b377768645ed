"""People who may leave, and people who may not, for the evacuation tests.

Decisions are recorded by the field worker of the household's team (through the consent
service, as the tablet would) and children's grants are verified by the coordinator, who
did not record them (four eyes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.auth.models import User
from app.consents import service as consent_service
from app.extensions import db


@dataclass
class Child:
    person: object
    #: the mother's guardianship link
    link: object
    #: her parental grant (verified unless asked otherwise)
    consent: object


@pytest.fixture
def household(make_household, team):
    """A household of the field worker's team (Team North)."""
    return make_household(team=team, locality="Riverside")


@pytest.fixture
def evacuation(make_evacuation, team):
    """A planned evacuation of Team North, on foot."""
    return make_evacuation(team)


@pytest.fixture
def verify(app, coordinator):
    """``verify(record)``: the coordinator verifies a grant someone else recorded."""

    def do(record):
        with app.app_context():
            actor = db.session.get(User, coordinator.id)
            verified = consent_service.verify_consent(actor, record.id, "Form checked.")
            db.session.commit()
            return verified

    return do


@pytest.fixture
def eligible_adult(make_person, make_consent, field_worker, household):
    """``eligible_adult(household=..., **fields)``: an adult who agreed to leave."""

    def make(in_household=household, recorder=field_worker, **fields):
        person = make_person(in_household, age=fields.pop("age", 35), **fields)
        make_consent(recorder, person, "self", "granted")
        return person

    return make


@pytest.fixture
def child_of(make_person, make_guardian, make_consent, field_worker, household, verify):
    """``child_of(mother)``: her child, with her parental grant (verified by default)."""

    def make(
        mother,
        in_household=household,
        *,
        verified: bool = True,
        age: int = 8,
        recorder=field_worker,
    ) -> Child:
        child = make_person(in_household, age=age, full_name=f"Child of {mother.full_name}")
        link = make_guardian(child, mother, "mother")
        grant = make_consent(recorder, child, "parental", "granted", guardianship=link)
        if verified:
            grant = verify(grant)
        return Child(child, link, grant)

    return make
