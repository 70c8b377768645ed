"""Who is calling, and may they: bearer-token authentication and role checks.

Every API view method declares who may call it, with ``@roles(...)`` or ``@public``.
A method that declares nothing is refused (fail closed); the authorisation-matrix test
fails when a route is missing from its policy table.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER, ApiToken, User
from app.auth.permissions import CASE_ROLES, ROLE_LABELS
from app.auth.tokens import resolve_token
from app.errors import Forbidden, Unauthorized

PUBLIC = "public"
#: Routes outside the case API that need no token: the OpenAPI document (flask-smorest's
#: "api-docs"), the documentation page (app/docs.py), health probes.
OPEN_BLUEPRINTS = frozenset({"api-docs", "docs-page", "health"})


def roles(*allowed: str):
    """Let only these roles call the view method (403 for the others)."""

    def decorate(fn):
        fn._access = frozenset(allowed)
        return fn

    return decorate


def public(fn):
    """The view method needs no token (logging in)."""
    fn._access = PUBLIC
    return fn


def current_actor() -> User:
    actor = g.get("actor")
    if actor is None:
        raise Unauthorized()
    return actor


def current_token() -> ApiToken:
    return g.token


def access_policy(app: Flask, endpoint: str, method: str) -> frozenset[str] | str | None:
    """The declared policy of a route's method: a set of roles, PUBLIC, or None."""
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    target = getattr(view_class, method.lower(), None) if view_class else view
    return getattr(target, "_access", None)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> None:
    token = _bearer_token()
    if token is None:
        raise Unauthorized("Send Authorization: Bearer <token> from POST /api/v1/auth/tokens.")
    resolved = resolve_token(token)
    if resolved is None:
        raise Unauthorized(
            "The token is unknown, expired or revoked, or the account is disabled.",
            code="invalid_token",
        )
    g.actor, g.token = resolved


def register_access_control(app: Flask) -> None:
    @app.before_request
    def _enforce_access() -> None:
        if request.routing_exception is not None or request.endpoint is None:
            return
        if request.blueprint in OPEN_BLUEPRINTS or request.endpoint == "static":
            return
        if request.method == "OPTIONS":
            return
        method = "GET" if request.method == "HEAD" else request.method
        policy = access_policy(current_app, request.endpoint, method)
        if policy == PUBLIC:
            return
        authenticate()
        if policy is None or g.actor.role not in policy:
            raise Forbidden(f"{ROLE_LABELS[g.actor.role]} may not do this.", code="role_forbidden")


__all__ = ["ADMIN", "CASE_ROLES", "COORDINATOR", "FIELD_WORKER", "current_actor", "roles"]
