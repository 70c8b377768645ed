"""Accounts and teams, managed by administrators (and the operator at the command line).

Signing in and tokens are ``app.auth.tokens``; passwords are hashed and judged by
``app.auth.passwords``. Functions flush; the request or command commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from app.audit import service as audit
from app.auth.models import ADMIN, FIELD_WORKER, ROLES, ApiToken, Team, User
from app.auth.passwords import check_password_policy, hash_password
from app.auth.permissions import Actor, require_role
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")


def normalise_username(username: str) -> str:
    return username.strip().lower()


# --- teams -------------------------------------------------------------------------------


def list_teams_query() -> sa.Select:
    return sa.select(Team)


def create_team(
    actor: Actor, *, name: str, area: str | None = None, id: uuid.UUID | None = None
) -> Team:
    require_role(actor, ADMIN, doing="create teams")
    name = name.strip()
    team_id = ensure_new_id(Team, id)
    if db.session.scalar(sa.select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"A team named {name!r} exists already.", code="duplicate_name")
    team = Team(id=team_id, name=name, area=area)
    db.session.add(team)
    db.session.flush()
    return team


def get_team(team_id: uuid.UUID) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


def find_team(name_or_id: str) -> Team:
    try:
        return get_team(uuid.UUID(name_or_id))
    except ValueError:
        team = db.session.scalar(sa.select(Team).where(Team.name == name_or_id))
        if team is None:
            raise NotFound(f"No team named {name_or_id!r}.") from None
        return team


# --- users -------------------------------------------------------------------------------


def list_users_query(*, role: str | None = None, team_id: uuid.UUID | None = None) -> sa.Select:
    stmt = sa.select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    return stmt


def _check_team_for_role(role: str, team_id: uuid.UUID | None) -> None:
    if role == FIELD_WORKER and team_id is None:
        raise Invalid({"team_id": ["A field worker must belong to a team."]})
    if team_id is not None and db.session.get(Team, team_id) is None:
        raise Invalid({"team_id": ["No such team."]})


def create_user(
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str,
    full_name: str | None = None,
    team_id: uuid.UUID | None = None,
    is_active: bool = True,
    id: uuid.UUID | None = None,
) -> User:
    require_role(actor, ADMIN, doing="create user accounts")
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise Invalid({"username": ["Use 3-64 letters, digits, dots, dashes or underscores."]})
    if role not in ROLES:
        raise Invalid({"role": [f"Must be one of: {', '.join(ROLES)}."]})
    full_name = (full_name or username).strip()
    if not full_name:
        raise Invalid({"full_name": ["Must not be blank."]})
    check_password_policy(password, username, full_name)
    _check_team_for_role(role, team_id)
    user_id = ensure_new_id(User, id)
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.", code="duplicate_username")
    user = User(
        id=user_id,
        username=username,
        full_name=full_name,
        role=role,
        team_id=team_id,
        is_active=is_active,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def get_user(user_id: uuid.UUID, *, for_update: bool = False) -> User:
    """A user account; ``for_update``: locked, and read again under the lock (what was read
    before waiting may have changed meanwhile), for a change checked against If-Match."""
    if for_update:
        user = db.session.scalar(
            sa.select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    else:
        user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(username: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def update_user(
    actor: Actor,
    user_id: uuid.UUID,
    changes: dict,
    *,
    precondition: Callable[[User], None] | None = None,
) -> User:
    """Change a user's name, role, team, active flag or password, under the account's lock;
    ``precondition`` (the If-Match check) sees the account as the lock found it, so no one
    changes it meanwhile.

    Disabling a user or changing their password ends their sessions at once.
    """
    require_role(actor, ADMIN, doing="change user accounts")
    user = get_user(user_id, for_update=True)
    if precondition is not None:
        precondition(user)
    if user.id == actor.id and (
        changes.get("is_active") is False or changes.get("role", ADMIN) != ADMIN
    ):
        raise Conflict(
            "You cannot disable or demote your own account; ask another administrator.",
            code="self_lockout",
        )
    role = changes.get("role", user.role)
    team_id = changes.get("team_id", user.team_id)
    if role not in ROLES:
        raise Invalid({"role": [f"Must be one of: {', '.join(ROLES)}."]})
    _check_team_for_role(role, team_id)
    if "password" in changes:
        check_password_policy(
            changes["password"], user.username, changes.get("full_name", user.full_name)
        )
        user.password_hash = hash_password(changes["password"])
    if "full_name" in changes:
        user.full_name = changes["full_name"].strip()
    for field in ("role", "is_active"):
        if field in changes:
            setattr(user, field, changes[field])
    user.team_id = team_id
    db.session.flush()
    if changes.get("is_active") is False or "password" in changes:
        revoke_all_tokens(actor, user)
    return user


def revoke_all_tokens(actor: Actor, user: User) -> int:
    """Revoke every live token of ``user`` (a lost tablet); returns how many."""
    require_role(actor, ADMIN, doing="revoke users' tokens")
    result = db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record("revoke_all_tokens", "users", user.id, {"revoked": result.rowcount})
    return result.rowcount


def revoke_user_tokens(actor: Actor, user_id: uuid.UUID) -> int:
    """Revoke every live token of the user ``user_id`` (404 for no such account); returns
    how many (``revoke_all_tokens``, which checks the actor)."""
    return revoke_all_tokens(actor, get_user(user_id))
