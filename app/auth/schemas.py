from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.auth.models import ROLES
from app.http import NOT_BLANK, PageArgsSchema


class TeamSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Client-chosen UUID (optional on create)"})
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), NOT_BLANK])
    area = fields.String(allow_none=True, validate=validate.Length(max=200))


class UserSchema(ma.Schema):
    id = fields.UUID()
    username = fields.String(required=True, validate=validate.Length(min=3, max=64))
    full_name = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    team_id = fields.UUID(allow_none=True)
    is_active = fields.Boolean()
    version = fields.Integer(dump_only=True)


class UserCreateSchema(UserSchema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1000))


class UserUpdateSchema(ma.Schema):
    full_name = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    role = fields.String(validate=validate.OneOf(ROLES))
    team_id = fields.UUID(allow_none=True)
    is_active = fields.Boolean()
    password = fields.String(load_only=True, validate=validate.Length(max=1000))


class UserQueryArgsSchema(PageArgsSchema):
    role = fields.String(validate=validate.OneOf(ROLES))
    team_id = fields.UUID()


class TokenRequestSchema(ma.Schema):
    username = fields.String(required=True, validate=validate.Length(max=200))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1000))
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
    token = fields.String(required=True, metadata={"description": "Bearer token; shown once"})
    expires_at = fields.AwareDateTime(required=True)
    user = fields.Nested(UserSchema, required=True)
    device_cookie = fields.String(
        required=True,
        metadata={
            "description": "Keep it on this device (like the token, a secret) and send it"
            " with the next login of this user; it replaces the previous one. Valid for"
            " DEVICE_COOKIE_MAX_AGE_DAYS days and until the user's password changes."
        },
    )


class RevokedSchema(ma.Schema):
    revoked = fields.Integer(required=True, metadata={"description": "Tokens revoked"})
