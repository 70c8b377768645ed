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
from app.http import (
    IDEMPOTENCY_KEY_PARAMETER,
    IF_MATCH_PARAMETER,
    Blueprint,
    PageArgsSchema,
    Resource,
    page_of,
    paginate,
    require_if_match,
    with_etag,
)
from app.idempotency.service import idempotent

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and tokens")
ALL_ROLES = (*CASE_ROLES, ADMIN)


@blp.route("/auth/tokens")
class Tokens(Resource):
    @public
    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many failed logins; see Retry-After")
    @blp.alt_response(503, description="The login throttle's store is down; see Retry-After")
    def post(self, data):
        """Log in: exchange a username and password for a bearer token"""
        issued = service.issue_token(
            data["username"],
            data["password"],
            data.get("device_label"),
            device_cookie=data.get("device_cookie"),
            client_address=request.remote_addr,
        )
        return {
            "token": issued.token,
            "expires_at": issued.record.expires_at,
            "user": issued.user,
            "device_cookie": issued.device_cookie,
        }


@blp.route("/auth/tokens/current")
class CurrentToken(Resource):
    @roles(*ALL_ROLES)
    @blp.response(204)
    def delete(self):
        """Log out: revoke the token of this request"""
        service.revoke_token(current_actor(), current_token())


@blp.route("/me")
class Me(Resource):
    @roles(*ALL_ROLES)
    @blp.response(200, UserSchema)
    def get(self):
        """The user behind the token"""
        return with_etag(current_actor())


@blp.route("/teams")
class Teams(Resource):
    @roles(*ALL_ROLES)
    @blp.arguments(PageArgsSchema, location="query")
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
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    def post(self, data):
        """Create a team"""
        return service.create_team(current_actor(), **data)


@blp.route("/users")
class Users(Resource):
    @roles(ADMIN)
    @blp.arguments(UserQueryArgsSchema, location="query")
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
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a user account"""
        user = service.create_user(current_actor(), **data)
        return with_etag(user, 201, {"Location": f"/api/v1/users/{user.id}"})


@blp.route("/users/<uuid:user_id>")
class UserById(Resource):
    @roles(ADMIN)
    @blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID):
        """One user account"""
        return with_etag(service.get_user(user_id))

    @roles(ADMIN)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, changes, user_id: uuid.UUID):
        """Change a user's name, role, team, active flag or password"""
        user = service.get_user(user_id)
        require_if_match(user)
        return with_etag(service.update_user(current_actor(), user, changes))


@blp.route("/users/<uuid:user_id>/tokens")
class UserTokens(Resource):
    @roles(ADMIN)
    @blp.response(200, RevokedSchema)
    def delete(self, user_id: uuid.UUID):
        """Revoke every token of a user (a lost or stolen device)"""
        revoked = service.revoke_all_tokens(current_actor(), service.get_user(user_id))
        return {"revoked": revoked}
