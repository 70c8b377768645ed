from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app import schema_fields as sf
from app.auth.models import ROLES
from app.web.pagination import PageArgsSchema

FULL_NAME = "The person's name, as others see it in reviews and the trail (1-200 characters)"
ROLE = (
    "`field_worker`: one team's households; `coordinator`: all case data, reviews, housing,"
    " evacuations; `admin`: accounts, teams and the audit trail, no case data"
)
TEAM = "The user's team; required for a field worker, optional for the other roles"
IS_ACTIVE = "false: the account cannot log in and its tokens stop working at once"
PASSWORD = (
    "Write-only. At least PASSWORD_MIN_LENGTH characters (12 by default), not the user's own"
    " name, and not easy to guess (checked with zxcvbn); no composition rules"
)


class TeamSchema(ma.Schema):
    """A field team and the area it works in."""

    id = sf.client_id()
    name = sf.text(
        100,
        "The team's name, unique (1-100 characters)",
        min_length=1,
        required=True,
        not_blank=True,
    )
    area = sf.text(200, "The area it works in", allow_none=True)


class UserSchema(ma.Schema):
    """A user account (never its password)."""

    id = sf.client_id()
    username = sf.text(
        64,
        "Login name, unique: 3-64 letters, digits, dots, dashes or underscores, starting and"
        " ending with a letter or digit; stored in lower case",
        min_length=3,
        required=True,
    )
    full_name = sf.text(
        200, FULL_NAME + "; the username when not given", min_length=1, not_blank=True
    )
    role = sf.code(ROLES, ROLE, required=True)
    team_id = fields.UUID(allow_none=True, **sf.about(TEAM))
    is_active = fields.Boolean(**sf.about(IS_ACTIVE + "; true when not given"))
    version = sf.record_version()


class UserCreateSchema(UserSchema):
    """A new user account, with its first password (administrators only)."""

    password = sf.text(1000, PASSWORD, required=True, load_only=True)


class UserUpdateSchema(ma.Schema):
    """Changes to a user account: only the fields sent change. Disabling the account or
    setting a password ends its sessions at once."""

    full_name = sf.text(200, FULL_NAME, min_length=1, not_blank=True)
    role = sf.code(ROLES, ROLE)
    team_id = fields.UUID(allow_none=True, **sf.about(TEAM))
    is_active = fields.Boolean(**sf.about(IS_ACTIVE))
    password = sf.text(1000, PASSWORD, load_only=True)


class UserQueryArgsSchema(PageArgsSchema):
    """Filters of the user list; all given must hold."""

    role = sf.code(ROLES, "Only users with this role")
    team_id = fields.UUID(**sf.about("Only this team's users"))


class TokenRequestSchema(ma.Schema):
    """A login: username and password, and optionally what identifies this device."""

    username = sf.text(200, "The login name (case does not matter)", required=True)
    password = sf.text(1000, "The user's password", required=True, load_only=True)
    device_label = sf.text(100, "Which device holds the token, e.g. 'tablet 7'", allow_none=True)
    device_cookie = sf.text(
        1000,
        "The `device_cookie` of this device's last successful login, if any. With it, the"
        " login is counted in this device's own throttle, so guesses at the username from"
        " elsewhere do not lock this device out. An invalid, expired or another user's value"
        " is ignored (the login is throttled like any).",
        load_only=True,
        allow_none=True,
    )


class TokenSchema(ma.Schema):
    """A new bearer token: send it as `Authorization: Bearer <token>`."""

    token = fields.String(required=True, **sf.about("Bearer token; shown once"))
    expires_at = fields.AwareDateTime(
        required=True,
        **sf.about("When the token stops working (TOKEN_TTL_HOURS after login, 12 by default)"),
    )
    user = fields.Nested(UserSchema, required=True, **sf.about("The user who logged in"))
    device_cookie = fields.String(
        required=True,
        **sf.about(
            "Keep it on this device (like the token, a secret) and send it with the next login"
            " of this user; it replaces the previous one. Valid for DEVICE_COOKIE_MAX_AGE_DAYS"
            " days and until the user's password changes."
        ),
    )


class RevokedSchema(ma.Schema):
    """How many of a user's tokens were revoked."""

    revoked = fields.Integer(required=True, **sf.about("Tokens revoked"))
