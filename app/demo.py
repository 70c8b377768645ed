"""Fictional demo data for a newcomer's first look. Every name and place here is invented."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.auth import service as auth
from app.auth.models import Team, User
from app.auth.permissions import OPERATOR
from app.extensions import db
from app.households import guardianships, persons
from app.households import service as households
from app.households.models import today, years_before

#: username -> (role, password). Demo only: `demo seed` refuses to run in production.
DEMO_PASSWORDS = {
    "admin": ("admin", "lantern-quiet-harbour"),
    "coord": ("coordinator", "orchard-amber-compass"),
    "field1": ("field_worker", "willow-steady-bridge"),
    "field2": ("field_worker", "meadow-copper-signal"),
}


def _born(years: int, days: int = 40) -> dt.date:
    return years_before(today(), years) - dt.timedelta(days=days)


def seed() -> bool:
    """Create the demo teams, users and households unless they exist; True if created."""
    if db.session.scalar(sa.select(Team.id).where(Team.name == "Team Aster")) is not None:
        return False
    aster, birch, coordinator = _teams_and_accounts()
    _family_by_the_mill(coordinator, aster)
    _aunt_and_nephew_on_the_hill(coordinator, birch)
    return True


def _teams_and_accounts() -> tuple[Team, Team, User]:
    """The two teams and the demo accounts; the coordinator's, who records the families."""
    # the operator who runs `demo seed` sets up the teams and accounts, as with `users create`
    aster = auth.create_team(OPERATOR, name="Team Aster", area="Riverside and the old mill quarter")
    birch = auth.create_team(
        OPERATOR, name="Team Birch", area="Hillside blocks north of the rail yard"
    )
    teams = {"field1": aster, "field2": birch}
    users = {}
    for username, (role, password) in DEMO_PASSWORDS.items():
        team = teams.get(username)
        users[username] = auth.create_user(
            OPERATOR,
            username=username,
            role=role,
            password=password,
            full_name={
                "admin": "Ada Demo-Admin",
                "coord": "Corin Demo-Coordinator",
                "field1": "Fenna Demo-Field",
                "field2": "Frode Demo-Field",
            }[username],
            team_id=team.id if team else None,
        )
    return aster, birch, users["coord"]


def _family_by_the_mill(coordinator: User, team: Team) -> None:
    """A mother, two children, their grandfather; the father missing abroad."""
    h1 = households.create_household(
        coordinator,
        {
            "team_id": team.id,
            "locality": "Riverside",
            "district": "Mill quarter",
            "address_description": "Basement of the 5-storey block by the old mill, blue door",
            "priority": "urgent",
            "needs": ["transport_money", "housing"],
            "notes": "Mother is afraid the children will be taken away. Go slowly.",
        },
    )
    mother = persons.add_member(
        coordinator,
        h1.id,
        {"full_name": "Mira Fictova", "sex": "female", "date_of_birth": _born(34)},
    )
    child1 = persons.add_member(
        coordinator,
        h1.id,
        {"full_name": "Nika Fictova", "sex": "female", "date_of_birth": _born(9)},
    )
    child2 = persons.add_member(
        coordinator, h1.id, {"full_name": "Tomo Fictov", "sex": "male", "estimated_age": 4}
    )
    grandfather = persons.add_member(
        coordinator,
        h1.id,
        {
            "full_name": "Pavo Fictov",
            "sex": "male",
            "date_of_birth": _born(71),
            "mobility": "walks_with_help",
        },
    )
    for child in (child1, child2):
        guardianships.add_guardian(
            coordinator, child.id, {"guardian_person_id": mother.id, "relationship": "mother"}
        )
        guardianships.add_guardian(
            coordinator,
            child.id,
            {"guardian_person_id": grandfather.id, "relationship": "grandparent"},
        )
        guardianships.add_guardian(
            coordinator,
            child.id,
            {
                "external_name": "Dario Fictov",
                "external_contact": "+000 555 0101 (fictional)",
                "relationship": "father",
                "legal_status": "missing",
            },
        )


def _aunt_and_nephew_on_the_hill(coordinator: User, team: Team) -> None:
    """An aunt, the nephew she is the legal guardian of, and an elderly relative."""
    h2 = households.create_household(
        coordinator,
        {
            "team_id": team.id,
            "locality": "Hillside",
            "district": "Rail yard",
            "address_description": "Ground floor flat behind the closed bakery",
            "priority": "high",
            "needs": ["medical", "mobility_support"],
        },
    )
    aunt = persons.add_member(
        coordinator,
        h2.id,
        {"full_name": "Lena Imagina", "sex": "female", "date_of_birth": _born(46)},
    )
    orphan = persons.add_member(
        coordinator, h2.id, {"full_name": "Oli Imagin", "sex": "male", "date_of_birth": _born(13)}
    )
    guardianships.add_guardian(
        coordinator,
        orphan.id,
        {"guardian_person_id": aunt.id, "relationship": "legal_guardian"},
    )
    persons.add_member(
        coordinator,
        h2.id,
        {
            "full_name": "Vera Imagina",
            "sex": "female",
            "date_of_birth": _born(83),
            "mobility": "cannot_walk",
        },
    )
