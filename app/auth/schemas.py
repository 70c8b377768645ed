from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.auth.models import ROLES
from app.http import CLIENT_ID_DESCRIPTION, NOT_BLANK, VERSION_DESCRIPTION, PageArgsSchema


def _about(description: str) -> dict:
    return {"metadata": {"description": description}}


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

    id = fields.UUID(metadata={"description": CLIENT_ID_DESCRIPTION})
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), NOT_BLANK],
        **_about("The team's name, unique (1-100 characters)"),
    )
    area = fields.String(
        allow_none=True, validate=validate.Length(max=200), **_about("The area it works in")
    )


class UserSchema(ma.Schema):
    """A user account (never its password)."""

    id = fields.UUID(**_about(CLIENT_ID_DESCRIPTION))
    username = fields.String(
        required=True,
        validate=validate.Length(min=3, max=64),
        **_about(
            "Login name, unique: 3-64 letters, digits, dots, dashes or underscores, starting"
            " and ending with a letter or digit; stored in lower case"
        ),
    )
    full_name = fields.String(
        validate=[validate.Length(min=1, max=200), NOT_BLANK],
        **_about(FULL_NAME + "; the username when not given"),
    )
    role = fields.String(required=True, validate=validate.OneOf(ROLES), **_about(ROLE))
    team_id = fields.UUID(allow_none=True, **_about(TEAM))
    is_active = fields.Boolean(**_about(IS_ACTIVE + "; true when not given"))
    version = fields.Integer(dump_only=True, **_about(VERSION_DESCRIPTION))


class UserCreateSchema(UserSchema):
    """A new user account, with its first password (administrators only)."""

    password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=1000), **_about(PASSWORD)
    )


class UserUpdateSchema(ma.Schema):
    """Changes to a user account: only the fields sent change. Disabling the account or
    setting a password ends its sessions at once."""

    full_name = fields.String(
        validate=[validate.Length(min=1, max=200), NOT_BLANK], **_about(FULL_NAME)
    )
    role = fields.String(validate=validate.OneOf(ROLES), **_about(ROLE))
    team_id = fields.UUID(allow_none=True, **_about(TEAM))
    is_active = fields.Boolean(**_about(IS_ACTIVE))
    password = fields.String(load_only=True, validate=validate.Length(max=1000), **_about(PASSWORD))


class UserQueryArgsSchema(PageArgsSchema):
    """Filters of the user list; all given must hold."""

    role = fields.String(validate=validate.OneOf(ROLES), **_about("Only users with this role"))
    team_id = fields.UUID(**_about("Only this team's users"))


class TokenRequestSchema(ma.Schema):
    """A login: username and password, and optionally what identifies this device."""

    username = fields.String(
        required=True,
        validate=validate.Length(max=200),
        **_about("The login name (case does not matter)"),
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=1000),
        **_about("The user's password"),
    )
    device_label = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "Which device holds the token, e.g. 'tablet 7'"},
    )
    device_cookie = fields.String(
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=1000),
        metadata={
            "description": "The `device_cookie` of this device's last successful login, if"
            " any. With it, the login is counted in this device's own throttle, so guesses"
            " at the username from elsewhere do not lock this device out. An invalid,"
            " expired or another user's value is ignored (the login is throttled like any)."
        },
    )


class TokenSchema(ma.Schema):
    """A new bearer token: send it as `Authorization: Bearer <token>`."""

    token = fields.String(required=True, metadata={"description": "Bearer token; shown once"})
    expires_at = fields.AwareDateTime(
        required=True,
        **_about("When the token stops working (TOKEN_TTL_HOURS after login, 12 by default)"),
    )
    user = fields.Nested(UserSchema, required=True, **_about("The user who logged in"))
    device_cookie = fields.String(
        required=True,
        metadata={
            "description": "Keep it on this device (like the token, a secret) and send it"
            " with the next login of this user; it replaces the previous one. Valid for"
            " DEVICE_COOKIE_MAX_AGE_DAYS days and until the user's password changes."
        },
    )


class RevokedSchema(ma.Schema):
    """How many of a user's tokens were revoked."""

    revoked = fields.Integer(required=True, metadata={"description": "Tokens revoked"})
