"""Every failure becomes an RFC 9457 problem (``app.errors.problem``), here.

A failed request's work is abandoned (``unit_of_work.abandon``); a refusal worth a trace
(401, 403, 429) is then written to the audit trail in a transaction of its own
(``audit_refusal``, the unit of work's documented exception).
"""

from __future__ import annotations

import http
import logging
import uuid

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app import unit_of_work
from app.audit import service as audit
from app.errors import DomainError, database_unavailable, database_unavailable_problem, problem

log = logging.getLogger(__name__)


def _http_code(status: int) -> str:
    return http.HTTPStatus(status).name.lower()


#: Refusals worth a trace: failed logins and bad tokens, forbidden attempts, throttling.
AUDITED_REFUSALS = (401, 403, 429)


def _actor_id() -> uuid.UUID | None:
    """The caller's id, read without a query: the rollback expired the user's row, and
    reloading it would begin a transaction of the request's again."""
    actor = g.get("actor")
    if actor is None:
        return None
    state = sa.inspect(actor, raiseerr=False)
    return state.identity[0] if state is not None and state.identity else actor.id


def audit_refusal(status: int, code: str) -> None:
    """Write the refusal to the audit trail in a transaction of its own, once the refused
    request's work is abandoned."""
    details = {"status": status, "code": code, "method": request.method, "path": request.path}
    try:
        if request.path == "/api/v1/auth/tokens":
            body = request.get_json(silent=True)
            username = body.get("username") if isinstance(body, dict) else None
            if isinstance(username, str):
                details["username"] = username.strip().lower()[:64]
        actor_id = _actor_id()
        unit_of_work.abandon()
        with unit_of_work.own_transaction() as session:
            audit.record_refusal(
                f"refused.{code}", "request", None, details, actor_id=actor_id, session=session
            )
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


#: Where webargs finds arguments ("multipart": an upload's fields and files, app/web/blueprint.py).
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
    unit_of_work.abandon()
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
    unit_of_work.abandon()
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
    unit_of_work.abandon()
    log.warning("transaction gave way to a concurrent one (%s)", error.orig.sqlstate)
    return problem(
        409,
        code="concurrent_change",
        title="Conflict",
        detail="Someone changed the same records at the same moment; nothing was changed. Retry.",
        headers={"Retry-After": "1"},
    )


def handle_database_error(error: SQLAlchemyError) -> Response:
    """An outage of the database is a 503 the client may retry; any other error a 500."""
    if not database_unavailable(error):
        return handle_unexpected(error)
    try:
        unit_of_work.abandon()
    except SQLAlchemyError:  # the connection is gone already; the pool will replace it
        log.debug("rollback after a database outage failed", exc_info=True)
    orig = getattr(error, "orig", None) or error
    # the driver's message names host, port or file, never a statement's values
    log.error("database unavailable: %s: %s", type(orig).__name__, str(orig).strip())
    return database_unavailable_problem()


def handle_unexpected(error: BaseException) -> Response:
    unit_of_work.abandon()
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
