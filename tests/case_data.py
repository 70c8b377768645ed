"""Role and case data: users of each role, and a case with one of everything around it.

The authorisation matrix, the ETag tests, the read-audit walk and the schemathesis run all
need the same thing: a household with a mother and her child, the mother's guardianship of
the child, the child's parental grant, a housing offer with a photo proposed to the
household, and an evacuation of the household's team, besides a user of each role.
``build_case`` makes it through the services (``tests/conftest.py``'s makers), with the
values a module needs; ``users_of_each_role`` makes the users.

A module whose tests only read such data builds it once, at module scope, in
``shared_transaction`` (``makers_of_their_own`` gives it makers outside a test's fixtures);
each test's writes are still rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from tests.conftest import PASSWORD, ApiClient, Makers, team_maker, user_maker


@dataclass(frozen=True)
class Case:
    team: Any
    household: Any
    mother: Any
    child: Any
    #: the mother's guardianship of the child
    guardianship: Any
    #: the child's parental grant, recorded by a field worker, awaiting review (or None)
    grant: Any
    offer: Any
    photo: Any
    proposal: Any
    evacuation: Any


def build_case(
    make: Makers,
    team,
    *,
    recorder=None,
    household: dict | None = None,
    mother: dict | None = None,
    child: dict | None = None,
    grant: dict | None = None,
    offer: dict | None = None,
    proposal_notes: str | None = None,
    evacuation: dict | None = None,
) -> Case:
    """One case of ``team``, in this order: the household, the mother, the child, her
    guardianship, the child's parental grant (recorded by ``recorder``; none without one),
    an offer, its photo, the offer proposed to the household, an evacuation of ``team``.

    ``mother`` and ``child`` take ``age`` (default 30) and the person's fields; the other
    dicts are the fields of what they name.
    """
    home = make.household(team=team, **(household or {}))
    mother_fields = dict(mother or {})
    parent = make.person(home, mother_fields.pop("age", 30), **mother_fields)
    child_fields = dict(child or {})
    kid = make.person(home, child_fields.pop("age", 30), **child_fields)
    link = make.guardian(kid, parent, "mother")
    consent = None
    if recorder is not None:
        consent = make.consent(
            recorder, kid, "parental", "granted", guardianship=link, **(grant or {})
        )
    flat = make.offer(**(offer or {}))
    photo = make.photo(flat)
    proposal = make.proposal(home, flat, proposal_notes)
    trip = make.evacuation(team, **(evacuation or {}))
    return Case(team, home, parent, kid, link, consent, flat, photo, proposal, trip)


def users_of_each_role(make: Makers, team) -> dict[str, Any]:
    """A field worker of ``team``, a coordinator and an administrator, new ones."""
    return {
        FIELD_WORKER: make.user(FIELD_WORKER, team),
        COORDINATOR: make.user(COORDINATOR),
        ADMIN: make.user(ADMIN),
    }


def makers_of_their_own(app) -> tuple[Makers, Any, Any]:
    """Makers for a module's shared data: (makers, the coordinator they act as, the team
    households go to unless told otherwise), both new, named apart from the fixtures'."""
    make_team = team_maker(app)
    team = make_team()
    coordinator = user_maker(app, make_team)(COORDINATOR)
    return Makers.acting_as(app, coordinator, team), coordinator, team


def api_as(app, user, password: str = PASSWORD) -> ApiClient:
    """A test client of its own, logged in as ``user`` (the ``login`` fixture, outside a
    test's fixtures)."""
    client = app.test_client()
    response = client.post(
        "/api/v1/auth/tokens", json={"username": user.username, "password": password}
    )
    assert response.status_code == 201, response.get_json()
    return ApiClient(client, response.get_json()["token"], user)
