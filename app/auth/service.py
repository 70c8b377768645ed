"""Accounts, teams and tokens. Functions flush; the request or command commits."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from zxcvbn import zxcvbn

from app.audit import service as audit
from app.auth import throttle
from app.auth.models import ADMIN, FIELD_WORKER, ROLES, ApiToken, Team, User
from app.auth.permissions import Actor, require_role
from app.db import ensure_new_id, utcnow
from app.errors import Conflict, Invalid, NotFound, Unauthorized
from app.extensions import db

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
TOKEN_PREFIX = "sp_"
#: A token's last use is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def warm_up_login() -> None:
    """Make the unknown-user hash now, so the first such login costs what any login costs."""
    _dummy_hash(password_hasher())


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


#: zxcvbn's own ceiling: its cost grows steeply with length. A longer password is judged
#: on its first this many characters (a strong start stays strong with more after it).
STRENGTH_CHECKED_CHARACTERS = 72
#: Words of this service that an attacker tries first (NIST: context-specific words).
SERVICE_WORDS = ("safepassage", "safe", "passage", "evacuation", "evacuate", "coordinator")


def check_password_policy(password: str, username: str, full_name: str | None = None) -> None:
    """Refuse short passwords, ones made of the user's own name, and guessable ones.

    NIST SP 800-63B: no composition rules; refuse what attackers try first. zxcvbn scores
    a password against frequency lists from breached-password corpora, common words and
    names, keyboard patterns, repeats, sequences and dates, and the user's own name.
    """
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    problems = []
    if len(password) < minimum:
        problems.append(f"Use at least {minimum} characters.")
    lowered = password.lower()
    names = [username, *(full_name or "").split()]
    if any(len(name) >= 3 and name.lower() in lowered for name in names):
        problems.append("Do not use your own name or username in the password.")
    if not problems:
        judged = zxcvbn(
            password[:STRENGTH_CHECKED_CHARACTERS],
            user_inputs=[username, *(full_name or "").split(), full_name or "", *SERVICE_WORDS],
        )
        if judged["score"] < current_app.config["PASSWORD_MIN_STRENGTH"]:
            feedback = judged["feedback"]
            problems.append(
                " ".join(
                    filter(
                        None,
                        [
                            "This password is too easy to guess.",
                            feedback.get("warning"),
                            *(
                                feedback.get("suggestions")
                                or ["Use a passphrase of four or more unrelated words."]
                            ),
                        ],
                    )
                )
            )
    if problems:
        raise Invalid({"password": problems})


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _token_hash(token: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


@dataclass
class IssuedToken:
    token: str
    record: ApiToken
    user: User
    #: Proof that this device has signed in as this user: present it at the next login.
    device_cookie: str


# --- device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies") ------
#
# A successful login hands the device a value signed with SECRET_KEY that names the user
# and a random device id. A login that presents it for the same user is counted in that
# device's own throttle bucket, not in the buckets strangers fill (see app.auth.throttle).
# The signature's salt includes the user's password hash, so a new password (what an
# administrator sets for a lost tablet) voids every device cookie of that user.


def _device_serializer(user: User) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"],
        salt="safe-passage/device-cookie/" + user.password_hash,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def device_cookie_for(user: User, device_id: str | None = None) -> str:
    """A device cookie for ``user``: a new device, or ``device_id`` renewed."""
    payload = {"u": str(user.id), "d": device_id or secrets.token_urlsafe(16)}
    return _device_serializer(user).dumps(payload)


def trusted_device(user: User | None, device_cookie: str | None) -> str | None:
    """The device id of a valid, unexpired device cookie of ``user``, else None."""
    if user is None or not device_cookie:
        return None
    max_age = current_app.config["DEVICE_COOKIE_MAX_AGE_DAYS"] * 86400
    try:
        payload = _device_serializer(user).loads(device_cookie, max_age=max_age)
    except BadSignature:  # also expired (SignatureExpired) or malformed
        return None
    if not isinstance(payload, dict) or payload.get("u") != str(user.id):
        return None
    device_id = payload.get("d")
    return device_id if isinstance(device_id, str) and device_id else None


def issue_token(
    username: str,
    password: str,
    device_label: str | None = None,
    *,
    device_cookie: str | None = None,
    client_address: str | None = None,
) -> IssuedToken:
    """Log in: the same answer for an unknown user, a wrong password or a disabled account.

    Each attempt is counted by the login throttle before the password is checked (429 when
    a bucket is full); a valid ``device_cookie`` of this user puts it in that device's
    bucket instead of the ones strangers can fill.
    """
    hasher = password_hasher()
    username = normalise_username(username)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    device_id = trusted_device(user, device_cookie)
    attempt = throttle.begin_login(username, client_address or "unknown", device_id)
    refused = Unauthorized("The username or password is wrong.", code="invalid_credentials")
    if user is None:
        # spend the same time as a real check, so timing does not reveal who exists
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(hasher), password)
        raise refused
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if not user.is_active:
        raise refused
    attempt.succeeded()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    now = utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        token_hash=_token_hash(token),
        device_label=device_label,
        expires_at=now + dt.timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]),
        last_used_at=now,
    )
    db.session.add(record)
    db.session.flush()
    return IssuedToken(
        token=token, record=record, user=user, device_cookie=device_cookie_for(user, device_id)
    )


def resolve_token(token: str) -> tuple[User, ApiToken] | None:
    """The active user and live token behind a bearer token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(
        sa.select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    record, user = row
    now = utcnow()
    if record.revoked_at is not None or record.expires_at <= now or not user.is_active:
        return None
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        # every API request's transaction may write (reads are audited): note it here
        record.last_used_at = now
    return user, record


def revoke_token(actor: Actor, record: ApiToken) -> None:
    """Log out: anyone may end their own token; an administrator may end anyone's."""
    if record.user_id != actor.id:
        require_role(actor, ADMIN, doing="revoke another user's token")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        db.session.flush()


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


# --- teams and users ---------------------------------------------------------------------


def list_teams_query() -> sa.Select:
    return sa.select(Team)


def list_users_query(*, role: str | None = None, team_id: uuid.UUID | None = None) -> sa.Select:
    stmt = sa.select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    return stmt


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


def update_user(actor: Actor, user: User, changes: dict) -> User:
    """Change a user's name, role, team, active flag or password.

    Disabling a user or changing their password ends their sessions at once.
    """
    require_role(actor, ADMIN, doing="change user accounts")
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
