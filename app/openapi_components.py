"""The OpenAPI document's shared parts: its ``components``, registered once, referred to by
every operation that uses them (``app.openapi`` writes each operation's contract).

* headers: ``X-Request-ID`` on every answer, ``Location``, ``Idempotent-Replayed``,
  ``Retry-After``, ``WWW-Authenticate``;
* header parameters: ``X-Request-ID`` and ``Idempotency-Key``;
* problem answers (RFC 9457, ``application/problem+json``): one per status, as
  flask-smorest names them, and the shared problems (``PROBLEMS``) the contract names:
  401, 403, 404, 409 ``duplicate_id`` and ``request_in_flight``, 412, 415, 422, 428, 429,
  503, and the default answer.

Each is registered lazily: the document shows those its operations use.
"""

from __future__ import annotations

import http
from dataclasses import dataclass
from typing import Any

from flask_smorest.utils import prepare_response

from app.errors import PROBLEM_MEDIA_TYPE

#: The component of a response header whose name differs from the header's: flask-smorest's
#: ETag documentation refers to ``ETAG`` (registered by app/etags.py).
HEADER_COMPONENTS = {"ETag": "ETAG"}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "This request's id: the X-Request-ID you sent when it was a valid "
        "one, else one the server chose. Every log line and audit event of the request "
        "carries it; quote it when you report a problem.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where what was created can be read: the record itself, or, for a "
        "team, a visit or a proposal, the list it was added to; for an evacuation's member, "
        "the evacuation; for a token, `/api/v1/auth/tokens/current` (where it is revoked).",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key: nothing was done again. Absent from a first answer.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": 'How to authenticate: `Bearer realm="safe-passage"`, a token from '
        "`POST /api/v1/auth/tokens`.",
        "schema": {"type": "string"},
    },
}


def header_refs(names: tuple[str, ...]) -> dict[str, str]:
    """Response headers by name, each referring to its component."""
    return {name: HEADER_COMPONENTS.get(name, name) for name in names}


def _parameters(idempotency_ttl_hours: int) -> dict[str, dict[str, Any]]:
    from app.logs import REQUEST_ID  # app.logs reaches the audit service: not at import

    return {
        "X-Request-ID": {
            "name": "X-Request-ID",
            "required": False,
            "description": "Your own id for this request, to find it in the server's logs "
            "and audit trail: 1 to 64 letters, digits, `.`, `_`, `:` or `-`. Any other "
            "value is replaced by an id the server chooses. The answer's X-Request-ID "
            "header carries the id used.",
            "schema": {"type": "string", "pattern": REQUEST_ID.pattern},
        },
        "Idempotency-Key": {
            "name": "Idempotency-Key",
            "required": False,
            "description": "A key you choose for this request (1 to 255 characters; a "
            "random UUID serves well), so that a retry after a lost answer does not do it "
            f"twice: within {idempotency_ttl_hours} hours, the same key with the same "
            "request replays the first answer (with `Idempotent-Replayed: true`). The same "
            "key with another request, or after your role or team changed, is 422 "
            "`idempotency_key_reused`; while the first is still being processed, 409 "
            "`request_in_flight`.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    }


@dataclass(frozen=True)
class Problem:
    """A problem answer shared by many operations: ``components.responses[name]``."""

    status: int
    description: str
    headers: tuple[str, ...] = ()


def status_name(status: int) -> str:
    """flask-smorest names a status's response component by ``HTTPStatus.name``."""
    return http.HTTPStatus(status).name


PROBLEMS: dict[str, Problem] = {
    status_name(400): Problem(
        400, "The body cannot be read: not valid JSON, or nested too deeply (`malformed_body`)."
    ),
    "INVALID_IDEMPOTENCY_KEY": Problem(
        400,
        "The Idempotency-Key is blank or longer than 255 characters (`invalid_idempotency_key`).",
    ),
    status_name(401): Problem(
        401,
        "No bearer token, or one that is unknown, expired or revoked, or whose account is "
        "disabled (`unauthorized`, `invalid_token`): log in again.",
        ("WWW-Authenticate",),
    ),
    status_name(403): Problem(
        403,
        "Your role may not do this (`role_forbidden`), or the rules leave this case to "
        "someone else (such as `coordinator_required`, `four_eyes`).",
    ),
    status_name(404): Problem(
        404,
        "Nothing with this id, or nothing you may see: a case outside your scope is not "
        "found either (`not_found`).",
    ),
    "DUPLICATE_ID": Problem(
        409,
        "The client-chosen `id` is taken (`duplicate_id`): the record was created before, "
        "or the id is another's.",
    ),
    "REQUEST_IN_FLIGHT": Problem(
        409,
        "A request with this Idempotency-Key is still being processed "
        "(`request_in_flight`): retry after Retry-After seconds.",
        ("Retry-After",),
    ),
    status_name(412): Problem(
        412,
        "The resource has changed since the ETag you sent as If-Match (`stale_version`), "
        "or someone changed it at the same moment: nothing was changed. The ETag header, "
        "when present, is the current one: read the resource again, then retry.",
        ("ETag",),
    ),
    status_name(413): Problem(413, "The body is larger than the server takes."),
    status_name(415): Problem(
        415,
        "The body is not of a media type this operation takes (see its request body) "
        "(`unsupported_media_type`).",
    ),
    status_name(422): Problem(
        422,
        "Some fields are invalid (`validation_failed`): `errors` names each field, unknown "
        "ones included, with its messages.",
    ),
    "IDEMPOTENCY_KEY_REUSED": Problem(
        422,
        "The Idempotency-Key was used for another request, or before your role or team "
        "changed (`idempotency_key_reused`): use a new key.",
    ),
    status_name(428): Problem(
        428,
        "This change needs If-Match with the ETag you last read (`if_match_required`), so "
        "that no one's change is overwritten unseen: read the resource, then send its ETag.",
    ),
    status_name(429): Problem(
        429,
        "Too many requests (`too_many_requests`): retry after Retry-After seconds.",
        ("Retry-After",),
    ),
    status_name(503): Problem(
        503,
        "The database cannot serve right now (`database_unavailable`); nothing was changed: "
        "retry after Retry-After seconds.",
        ("Retry-After",),
    ),
}
DEFAULT_PROBLEM = (
    "Any other problem; nothing was changed. Any write may answer 409 `concurrent_change` "
    "(the database gave it up to a concurrent one: retry after Retry-After seconds) or 412 "
    "`stale_version` (someone changed the same record at the same moment: read it again, "
    "then retry); any operation 500 `internal_error`."
)


def _problem_response(description: str, headers: tuple[str, ...], schema: Any) -> dict:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        "headers": header_refs(("X-Request-ID", *headers)),
    }


def register_components(
    spec: Any, error_schema: Any, default_name: str, *, idempotency_ttl_hours: int
) -> None:
    """The shared headers, header parameters and problem answers, each registered lazily
    (the document shows those its operations use). Every status has its component, as
    flask-smorest expects (it names them ``UNPROCESSABLE_ENTITY``, ``NOT_MODIFIED``, ...)."""
    for name, header in HEADERS.items():  # first: the responses below refer to them
        spec.components.header(name, header, lazy=True)
    for name, parameter in _parameters(idempotency_ttl_hours).items():
        spec.components.parameter(name, "header", parameter, lazy=True)
    for status in http.HTTPStatus:
        if status.name in PROBLEMS:
            continue
        response: dict = {
            "description": status.phrase,
            "headers": {"X-Request-ID": "X-Request-ID"},
        }
        if not (100 <= status < 200) and status not in (204, 304):
            response["schema"] = error_schema
        prepare_response(response, spec, PROBLEM_MEDIA_TYPE)
        spec.components.response(status.name, response, lazy=True)
    for name, problem in PROBLEMS.items():
        response = _problem_response(problem.description, problem.headers, error_schema)
        spec.components.response(name, response, lazy=True)
    default = _problem_response(DEFAULT_PROBLEM, ("Retry-After",), error_schema)
    spec.components.response(default_name, default, lazy=True)
