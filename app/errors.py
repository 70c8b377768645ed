"""RFC 9457 problem details: the one place where every error becomes a response."""

from __future__ import annotations

import http
import logging
import sqlite3
from typing import Any

import marshmallow as ma
import psycopg
from flask import Flask, Response, current_app
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.openapi_schemas import MAY_BE_ABSENT

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


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


def _http_code(status: int) -> str:
    return http.HTTPStatus(status).name.lower()


#: Refusals worth a trace: failed logins and bad tokens, forbidden attempts, throttling.
AUDITED_REFUSALS = (401, 403, 429)


def audit_refusal(status: int, code: str) -> None:
    """Write the refusal to the audit trail, after the refused request rolled back."""
    from flask import request

    from app.audit.service import record_refusal

    details = {"status": status, "code": code, "method": request.method, "path": request.path}
    try:
        if request.path == "/api/v1/auth/tokens":
            body = request.get_json(silent=True)
            username = body.get("username") if isinstance(body, dict) else None
            if isinstance(username, str):
                details["username"] = username.strip().lower()[:64]
        record_refusal(f"refused.{code}", "request", None, details)
    except Exception:  # the refusal still gets its answer; the gap is logged loudly
        log.exception("could not write a refusal to the audit trail")


def handle_domain_error(error: DomainError) -> Response:
    if error.status in AUDITED_REFUSALS:
        audit_refusal(error.status, error.code)
    return problem(
        error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        reasons=error.reasons,
        headers=error.headers,
    )


#: Where webargs finds arguments ("multipart": an upload's fields and files, app/http.py).
ARGUMENT_LOCATIONS = frozenset({"json", "query", "headers", "form", "files", "multipart"})


def handle_http_exception(error: HTTPException) -> Response:
    """Routing errors, webargs validation errors, 413, 429 … as problems."""
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    if status == 422 and isinstance(errors, dict):
        # webargs nests the messages under the location ("json", "query", ...)
        if len(errors) == 1 and next(iter(errors)) in ARGUMENT_LOCATIONS:
            errors = next(iter(errors.values()))
        return problem(
            422,
            code="validation_failed",
            title="Invalid request",
            detail="Some fields are invalid.",
            errors=errors,
        )
    if status in AUDITED_REFUSALS:
        audit_refusal(status, _http_code(status))
    headers = dict(data.get("headers") or {})
    raised_headers = dict(error.get_headers())
    for name in ("Retry-After", "Allow", "WWW-Authenticate"):
        if name in raised_headers:
            headers[name] = raised_headers[name]
    detail = data.get("message") or error.description
    if status == 400 and isinstance(errors, dict):
        # webargs: {"json": ["Invalid JSON body."]}
        detail = (
            " ".join(str(message) for messages in errors.values() for message in messages) or detail
        )
    return problem(status, code=_http_code(status), detail=detail, headers=headers)


def _is_unique_violation(error: IntegrityError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(error.orig)


def handle_integrity_error(error: IntegrityError) -> Response:
    """A duplicate that raced past its check is a 409; anything else a rule missed is a 422.

    A CHECK or foreign-key violation means a service let invalid input through: it is
    logged as an error so the missing rule gets written, and the client still gets a 4xx.
    """
    from app.extensions import db

    db.session.rollback()
    if _is_unique_violation(error):
        return problem(
            409,
            code="conflict",
            title="Conflict",
            detail="The change conflicts with data already stored (a duplicate).",
        )
    # the constraint's name only: the driver's message may quote the row's values
    diag = getattr(error.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or str(error.orig).split(":")[-1].strip()
    log.error("constraint violation not caught by a service rule: %s", constraint)
    return problem(
        422,
        code="constraint_violation",
        title="Invalid request",
        detail="The change breaks a rule of the stored data; nothing was changed.",
    )


def handle_stale_data(_error: StaleDataError) -> Response:
    from app.extensions import db

    db.session.rollback()
    return problem(
        412,
        code="stale_version",
        title="The resource has changed",
        detail="Someone changed this resource at the same time; fetch it again and retry.",
    )


#: PostgreSQL gave up one of two transactions waiting on each other: safe to retry.
RETRYABLE_SQLSTATES = ("40P01", "40001")


def handle_operational_error(error: OperationalError) -> Response:
    if getattr(error.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES:
        return handle_database_error(error)
    from app.extensions import db

    db.session.rollback()
    log.warning("transaction gave way to a concurrent one (%s)", error.orig.sqlstate)
    return problem(
        409,
        code="concurrent_change",
        title="Conflict",
        detail="Someone changed the same records at the same moment; nothing was changed. Retry.",
        headers={"Retry-After": "1"},
    )


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


def handle_database_error(error: SQLAlchemyError) -> Response:
    """An outage of the database is a 503 the client may retry; any other error a 500."""
    if not database_unavailable(error):
        return handle_unexpected(error)
    from app.extensions import db

    try:
        db.session.rollback()
    except SQLAlchemyError:  # the connection is gone already; the pool will replace it
        log.debug("rollback after a database outage failed", exc_info=True)
    orig = getattr(error, "orig", None) or error
    # the driver's message names host, port or file, never a statement's values
    log.error("database unavailable: %s: %s", type(orig).__name__, str(orig).strip())
    return database_unavailable_problem()


def handle_unexpected(error: BaseException) -> Response:
    from app.extensions import db

    db.session.rollback()
    if current_app.testing and not isinstance(error, HTTPException):
        raise error
    log.exception("unexpected error", exc_info=error)
    return problem(
        500,
        code="internal_error",
        title="Internal error",
        detail="Something went wrong on our side; nothing was changed.",
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeoutError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
