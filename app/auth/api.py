"""Logging in and out, the current user, teams and user accounts."""

from __future__ import annotations

import uuid

from flask import request

from app.auth import service
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
from app.etags import require_if_match
from app.http import (
    Blueprint,
    PageArgsSchema,
    Resource,
    page_of,
    paginate,
)
from app.idempotency.service import idempotent

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and tokens")
ALL_ROLES = (*CASE_ROLES, ADMIN)


@blp.route("/auth/tokens")
class Tokens(Resource):
    @public
    @blp.doc(operationId="logIn")
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(
        401,
        description="Wrong username or password, or a disabled account: the same answer for "
        "each (`invalid_credentials`).",
    )
    @blp.alt_response(
        429,
        description="Too many failed logins for this username, address or device "
        "(`too_many_requests`): retry after Retry-After seconds.",
    )
    @blp.alt_response(
        503,
        description="The login throttle's store is down, so nobody logs in "
        "(`login_unavailable`): retry after Retry-After seconds.",
    )
    def post(self, data):
        """Log in: exchange a username and password for a bearer token"""
        issued = service.issue_token(
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
        return token, 201, {"Location": "/api/v1/auth/tokens/current"}


@blp.route("/auth/tokens/current")
class CurrentToken(Resource):
    @roles(*ALL_ROLES)
    @blp.doc(operationId="logOut")
    @blp.response(204)
    def delete(self):
        """Log out: revoke the token of this request"""
        service.revoke_token(current_actor(), current_token())


@blp.route("/me")
class Me(Resource):
    @roles(*ALL_ROLES)
    @blp.doc(operationId="getMe")
    @blp.etag
    @blp.response(200, UserSchema)
    def get(self):
        """The user behind the token"""
        return current_actor()


@blp.route("/teams")
class Teams(Resource):
    @roles(*ALL_ROLES)
    @blp.doc(operationId="listTeams")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(TeamSchema))
    def get(self, args):
        """List teams"""
        items, cursor = paginate(
            service.list_teams_query(),
            [(Team.name, False), (Team.id, False)],
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": items, "next_cursor": cursor}

    @roles(ADMIN)
    @idempotent
    @blp.doc(operationId="createTeam")
    @blp.arguments(TeamSchema)
    @blp.etag
    @blp.response(201, TeamSchema)
    @blp.alt_response(409, description="A team with this name exists already (`duplicate_name`).")
    def post(self, data):
        """Create a team"""
        team = service.create_team(current_actor(), **data)
        return team, 201, {"Location": "/api/v1/teams"}  # no page of its own: the list


@blp.route("/users")
class Users(Resource):
    @roles(ADMIN)
    @blp.doc(operationId="listUsers")
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(UserSchema))
    def get(self, args):
        """List user accounts"""
        items, cursor = paginate(
            service.list_users_query(role=args.get("role"), team_id=args.get("team_id")),
            [(User.username, False), (User.id, False)],
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": items, "next_cursor": cursor}

    @roles(ADMIN)
    @idempotent
    @blp.doc(operationId="createUser")
    @blp.arguments(UserCreateSchema)
    @blp.etag
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="The username is taken (`duplicate_username`).")
    def post(self, data):
        """Create a user account"""
        user = service.create_user(current_actor(), **data)
        return user, 201, {"Location": f"/api/v1/users/{user.id}"}


@blp.route("/users/<uuid:user_id>")
class UserById(Resource):
    @roles(ADMIN)
    @blp.doc(operationId="getUser")
    @blp.etag
    @blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID):
        """One user account"""
        return service.get_user(user_id)

    @roles(ADMIN)
    @blp.doc(operationId="updateUser")
    @blp.arguments(UserUpdateSchema)
    @blp.etag
    @blp.response(200, UserSchema)
    @blp.alt_response(
        409,
        description="You cannot disable or demote your own account; another administrator can "
        "(`self_lockout`).",
    )
    def patch(self, changes, user_id: uuid.UUID):
        """Change a user's name, role, team, active flag or password"""
        user = service.get_user(user_id, for_update=True)
        require_if_match(user, UserSchema)  # under the row lock: no one changes it meanwhile
        return service.update_user(current_actor(), user, changes)


@blp.route("/users/<uuid:user_id>/tokens")
class UserTokens(Resource):
    @roles(ADMIN)
    @blp.doc(operationId="revokeUserTokens")
    @blp.response(200, RevokedSchema)
    def delete(self, user_id: uuid.UUID):
        """Revoke every token of a user (a lost or stolen device)"""
        revoked = service.revoke_all_tokens(current_actor(), service.get_user(user_id))
        return {"revoked": revoked}
