"""Signing in and out: bearer tokens, and the device cookies that vouch for a device.

A token is shown once, at sign-in; the database keeps only its HMAC under ``SECRET_KEY``.
Each sign-in is counted by the login throttle (app.auth.throttle) before the password is
checked. Functions flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.auth import throttle
from app.auth.models import ADMIN, ApiToken, User
from app.auth.passwords import hash_password, password_hasher, password_matches
from app.auth.permissions import Actor, require_role
from app.auth.service import normalise_username
from app.db import utcnow
from app.errors import Unauthorized
from app.extensions import db

TOKEN_PREFIX = "sp_"
#: A token's last use is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


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
    username = normalise_username(username)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    device_id = trusted_device(user, device_cookie)
    attempt = throttle.begin_login(username, client_address or "unknown", device_id)
    # an unknown user costs the same time as a real check (password_matches)
    if not password_matches(user.password_hash if user else None, password) or not user.is_active:
        raise Unauthorized("The username or password is wrong.", code="invalid_credentials")
    attempt.succeeded()
    if password_hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
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
