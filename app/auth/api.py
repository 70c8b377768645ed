"""Logging in and out, the current user, teams and user accounts."""

from __future__ import annotations

import uuid

from flask import request

from app.auth import service, tokens
from app.auth.access import CASE_ROLES, current_actor, current_token, public, roles
from app.auth.models import ADMIN, Team, User
from app.auth.schemas import (
    RevokedSchema,
    TeamSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
)
from app.idempotency.service import idempotent
from app.web.blueprint import Blueprint
from app.web.pagination import filters, page
from app.web.resource import Resource, created, if_match

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and tokens")
ALL_ROLES = (*CASE_ROLES, ADMIN)


@blp.route("/auth/tokens")
class Tokens(Resource):
    @public
    @blp.operation(
        "logIn",
        TokenSchema,
        status=201,
        body=TokenRequestSchema,
        etag=False,
        refusals={
            401: "Wrong username or password, or a disabled account: the same answer for each "
            "(`invalid_credentials`).",
            429: "Too many failed logins for this username, address or device "
            "(`too_many_requests`): retry after Retry-After seconds.",
            503: "The login throttle's store is down, so nobody logs in "
            "(`login_unavailable`): retry after Retry-After seconds.",
        },
    )
    def post(self, data):
        """Log in: exchange a username and password for a bearer token"""
        issued = tokens.issue_token(
            data["username"],
            data["password"],
            data.get("device_label"),
            device_cookie=data.get("device_cookie"),
            client_address=request.remote_addr,
        )
        token = {
            "token": issued.token,
            "expires_at": issued.record.expires_at,
            "user": issued.user,
            "device_cookie": issued.device_cookie,
        }
        # the token, to whoever holds it, is "the current token": where it is revoked
        return created(token, ".CurrentToken")


@blp.route("/auth/tokens/current")
class CurrentToken(Resource):
    @roles(*ALL_ROLES)
    @blp.operation("logOut", status=204, etag=False)
    def delete(self):
        """Log out: revoke the token of this request"""
        tokens.revoke_token(current_actor(), current_token())


@blp.route("/me")
class Me(Resource):
    @roles(*ALL_ROLES)
    @blp.operation("getMe", UserSchema)
    def get(self):
        """The user behind the token"""
        return current_actor()


@blp.route("/teams")
class Teams(Resource):
    @roles(*ALL_ROLES)
    @blp.paged("listTeams", TeamSchema)
    def get(self, args):
        """List teams"""
        return page(service.list_teams_query(), [(Team.name, False), (Team.id, False)], args)

    @roles(ADMIN)
    @idempotent
    @blp.operation(
        "createTeam",
        TeamSchema,
        status=201,
        body=TeamSchema,
        refusals={409: "A team with this name exists already (`duplicate_name`)."},
    )
    def post(self, data):
        """Create a team"""
        # a team has no page of its own: the list of them
        return created(service.create_team(current_actor(), **data), ".Teams")


@blp.route("/users")
class Users(Resource):
    @roles(ADMIN)
    @blp.paged("listUsers", UserSchema, args=UserQueryArgsSchema)
    def get(self, args):
        """List user accounts"""
        stmt = service.list_users_query(**filters(args))
        return page(stmt, [(User.username, False), (User.id, False)], args)

    @roles(ADMIN)
    @idempotent
    @blp.operation(
        "createUser",
        UserSchema,
        status=201,
        body=UserCreateSchema,
        refusals={409: "The username is taken (`duplicate_username`)."},
    )
    def post(self, data):
        """Create a user account"""
        return created(service.create_user(current_actor(), **data), ".UserById")


@blp.route("/users/<uuid:user_id>")
class UserById(Resource):
    @roles(ADMIN)
    @blp.operation("getUser", UserSchema)
    def get(self, user_id: uuid.UUID):
        """One user account"""
        return service.get_user(user_id)

    @roles(ADMIN)
    @blp.operation(
        "updateUser",
        UserSchema,
        body=UserUpdateSchema,
        refusals={
            409: "You cannot disable or demote your own account; another administrator can "
            "(`self_lockout`)."
        },
    )
    def patch(self, changes, user_id: uuid.UUID):
        """Change a user's name, role, team, active flag or password"""
        # If-Match is judged under the account's lock: no one changes it meanwhile
        return service.update_user(
            current_actor(), user_id, changes, precondition=if_match(UserSchema)
        )


@blp.route("/users/<uuid:user_id>/tokens")
class UserTokens(Resource):
    @roles(ADMIN)
    @blp.operation("revokeUserTokens", RevokedSchema, etag=False)
    def delete(self, user_id: uuid.UUID):
        """Revoke every token of a user (a lost or stolen device)"""
        revoked = service.revoke_user_tokens(current_actor(), user_id)
        return {"revoked": revoked}
