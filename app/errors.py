"""The errors a client can act on, and their RFC 9457 problem form.

The handlers that turn every failure into a problem, and abandon the request's work, are
in app/error_handlers.py: this module depends on no other of the application's, so any
module may raise its errors."""

from __future__ import annotations

import http
import sqlite3
from typing import Any

import marshmallow as ma
import psycopg
from flask import Response, current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.openapi_schemas import MAY_BE_ABSENT

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ReasonSchema(ma.Schema):
    """One reason a rule refuses or blocks: a code to act on and a sentence to show."""

    code = ma.fields.String(
        required=True,
        metadata={
            "description": "Machine code of the reason, e.g. `not_present`, `consent_missing`,"
            " `consent_pending_review`, `consent_expired`, `refused`, `parental_refusal`,"
            " `unaccompanied_child`, `four_eyes`, `not_a_parent`, `has_parent`,"
            " `capacity_exceeded`, `invalid_transition`; new codes may be added"
        },
    )
    message = ma.fields.String(
        required=True, metadata={"description": "The reason in a sentence a person can read"}
    )
    person_id = ma.fields.UUID(
        allow_none=True,
        metadata={
            "description": "The person the reason is about, when it is about one (left out"
            " otherwise)",
            MAY_BE_ABSENT: True,
        },
    )


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem: what went wrong, in words and as a machine code."""

    type = ma.fields.String(
        required=True,
        metadata={"description": "URI naming the problem: `urn:safe-passage:problem:<code>`"},
    )
    title = ma.fields.String(
        required=True, metadata={"description": "Short summary of the kind of problem"}
    )
    status = ma.fields.Integer(
        required=True, metadata={"description": "The HTTP status code, repeated"}
    )
    detail = ma.fields.String(
        metadata={
            "description": "What went wrong this time, in a sentence a person can read",
            MAY_BE_ABSENT: True,
        }
    )
    code = ma.fields.String(
        metadata={
            "description": "Machine-readable problem code (e.g. `validation_failed`,"
            " `stale_version`, `not_eligible`); stable, unlike the texts"
        }
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        metadata={
            "description": "Invalid fields (422): each field and its messages; nested"
            " bodies nest, list items by index",
            MAY_BE_ABSENT: True,
        },
    )
    reasons = ma.fields.List(
        ma.fields.Nested(ReasonSchema),
        metadata={
            "description": "A rule's refusal (409, 422): every reason it gives, not only the first",
            MAY_BE_ABSENT: True,
        },
    )


class DomainError(Exception):
    """An error a client can act on; carries its HTTP status and a machine ``code``."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        reasons: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.code = code or self.code
        self.errors = errors
        self.reasons = reasons
        self.headers = headers or {}


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="safe-passage"'})
        super().__init__(detail, **kwargs)


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, code, title = 412, "stale_version", "The resource has changed"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Invalid(DomainError):
    status, code, title = 422, "validation_failed", "Invalid request"

    def __init__(self, errors: dict[str, Any], detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail or "Some fields are invalid.", errors=errors, **kwargs)


class PreconditionRequired(DomainError):
    status, code, title = 428, "if_match_required", "If-Match required"


class TooManyRequests(DomainError):
    """Throttled; ``Retry-After`` says when to try again."""

    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kwargs)


class ServiceUnavailable(DomainError):
    """A store the request needs is down; ``Retry-After`` says when to try again."""

    status, code, title = 503, "service_unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kwargs)


def problem(
    status: int,
    *,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    errors: dict[str, Any] | None = None,
    reasons: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:safe-passage:problem:{code}",
        "title": title or http.HTTPStatus(status).phrase,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    if reasons:
        body["reasons"] = reasons
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    response.headers.update(headers or {})
    return response


#: How long a client should wait before retrying when the database cannot serve, in seconds.
DATABASE_RETRY_AFTER = 5
#: PostgreSQL SQLSTATE classes meaning "cannot serve now", not "this request is wrong":
#: connection exception, insufficient resources (disk, memory, too many connections),
#: operator intervention (shutdown, crash, cancelled for a timeout).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
#: ...and single states: the database is gone, or the service's role cannot log in.
UNAVAILABLE_SQLSTATES = ("3D000", "28000", "28P01")
#: SQLite result codes (primary) meaning the same: the file is locked past busy_timeout,
#: cannot be opened, cannot be read or written, or the disk is full.
UNAVAILABLE_SQLITE_CODES = (
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot serve right now (an outage, not a bug)."""
    if isinstance(error, PoolTimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:  # SQLAlchemy saw the connection drop
        return True
    orig = error.orig
    if isinstance(orig, psycopg.Error):
        sqlstate = orig.sqlstate
        if sqlstate is None:
            # libpq gave up without an answer from a server: refused, unreachable, reset,
            # closed, or refused at login (no such database, no connections allowed)
            return isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
        return sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in UNAVAILABLE_SQLSTATES
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in UNAVAILABLE_SQLITE_CODES
    return False


def database_unavailable_problem() -> Response:
    return problem(
        503,
        code="database_unavailable",
        title="Service unavailable",
        detail="The database cannot be reached right now. Retry in a few seconds.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )
