"""Who may change what, checked inside every operation that changes state (DESIGN §2).

The API's ``@roles(...)`` turns a caller away before any work; these checks make the
service functions themselves safe, whoever calls them: a command, a job, a future endpoint.

* field workers change only their own team's households and what is under them;
* coordinators change any case, manage housing offers, review consents, run evacuations;
* administrators manage users, teams and tokens, and touch no case data at all.

A role that may never do something gets 403 ``role_forbidden``; a case outside the caller's
team answers 404, as it does when read, so its existence is not revealed.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import sqlalchemy as sa

from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.changes import stream
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.households.models import Household, Person

CASE_ROLES = (FIELD_WORKER, COORDINATOR)
ROLE_LABELS = {
    FIELD_WORKER: "A field worker",
    COORDINATOR: "A coordinator",
    ADMIN: "An administrator",
}


class Actor(Protocol):
    """Whoever acts: a signed-in user, or the server's operator at the command line."""

    id: uuid.UUID | None
    role: str
    team_id: uuid.UUID | None


def require_role(actor: Actor | None, *allowed: str, doing: str) -> None:
    """403 ``role_forbidden`` unless ``actor`` holds one of the ``allowed`` roles. Allowed,
    the unit of work's changes are ``actor``'s when no request names its user (a command,
    a test calling the service): the timeline and the audit trail say who acted."""
    role = getattr(actor, "role", None)
    if role not in allowed:
        who = ROLE_LABELS.get(role, "Someone without a role")
        raise Forbidden(f"{who} may not {doing}.", code="role_forbidden")
    stream.acting(actor)


def require_team(actor: Actor | None, team_id: uuid.UUID | None, *, what: str) -> None:
    """Case data: coordinators anywhere, a field worker only in their own team's households."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    if actor.role == FIELD_WORKER and (team_id is None or team_id != actor.team_id):
        raise NotFound(f"No such {what}.")


def require_household(actor: Actor | None, household_id: uuid.UUID, *, what: str) -> None:
    """As ``require_team``, for something under the household ``household_id``."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    if actor.role == FIELD_WORKER:
        household = db.session.get(Household, household_id)  # usually loaded already
        require_team(actor, household.team_id if household else None, what=what)


def require_person(actor: Actor | None, person_id: uuid.UUID, *, what: str) -> None:
    """As ``require_team``, for a person or something under them."""
    require_role(actor, *CASE_ROLES, doing="change case data")
    if actor.role == FIELD_WORKER:
        team_id = db.session.scalar(
            sa.select(Household.team_id)
            .join(Person, Person.household_id == Household.id)
            .where(Person.id == person_id)
        )
        require_team(actor, team_id, what=what)


class Operator:
    """The server's operator, acting through ``flask --app wsgi ...`` commands.

    Whoever can run the commands holds the server and its database already, so they act
    with the administrator's role, and no more: an operator touches no case data either.
    They are no account (nothing to sign in as, no password to steal): their changes carry
    no actor id and a ``cli-`` request id in the audit trail, which no signed-in request has.
    """

    id = None
    role = ADMIN
    team_id = None
    username = "(operator)"
    is_active = True

    def __repr__(self) -> str:
        return "<Operator>"


OPERATOR = Operator()
