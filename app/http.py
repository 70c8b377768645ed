"""Shared HTTP mechanisms: the unit of work, media types, cursor pagination (ETags: etags.py)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy.orm import InstrumentedAttribute
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import BadRequest

from app.errors import (
    DomainError,
    Invalid,
    UnsupportedMediaType,
)
from app.etags import RepresentationEtagMixin, not_modified
from app.extensions import db, declare_write_intent
from app.openapi import RULE_VARIABLE, document_contract, record_contract
from app.openapi_schemas import BODY_LOCATIONS, note_answer, request_schema

MAX_PAGE_SIZE = 200
#: A name or a place made only of spaces says nothing; schemas refuse it.
NOT_BLANK = ma.validate.Regexp(r"\s*\S", error="Must not be blank.")


class AwareDateTime(ma.fields.AwareDateTime):
    """A time with its offset that can also be told in UTC (year 1 at +01:00 cannot)."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment.astimezone(dt.UTC)
        except OverflowError:
            raise ma.ValidationError("Not a time that can be stored.") from None
        return moment


class MalformedBody(DomainError):
    status, code, title = 400, "malformed_body", "Malformed request body"


class ArgumentParser(FlaskParser):
    """webargs' parser, refusing unknown query parameters too (422), not only body fields:
    a mistyped filter (``?stauts=ready``) must not silently return everything.

    Location ``multipart``: a multipart/form-data body's fields and files together, so one
    schema (one request body in the document) describes an upload and its caption.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
        "multipart": ma.RAISE,
    }
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req: Any, schema: ma.Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


#: What each path parameter of the API names, for the document.
PATH_PARAMETERS = {
    "user_id": "The user's id (UUID)",
    "household_id": "The household's id (UUID)",
    "person_id": "The person's id (UUID)",
    "guardianship_id": "The guardianship link's id (UUID)",
    "consent_id": "The consent record's id (UUID)",
    "offer_id": "The housing offer's id (UUID)",
    "photo_id": "The photo's id (UUID), as listed in the offer's `photos`",
    "proposal_id": "The housing proposal's id (UUID)",
    "evacuation_id": "The evacuation's id (UUID)",
}


class Blueprint(RepresentationEtagMixin, SmorestBlueprint):
    """flask-smorest's Blueprint with the strict argument parser, and every path parameter
    described in the document (``PATH_PARAMETERS``) unless the route describes it itself;
    its ETags are those of app/etags.py (304 after the commit, If-Match under the lock).

    Each operation's contract (who may call it, its problems and headers) is documented
    from what its view declares: see app/openapi.py."""

    ARGUMENTS_PARSER = ArgumentParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(document_contract)

    def arguments(self, schema, *, location="json", **kwargs):
        """A body is loaded, and documented, with its request schema: without the fields
        the server sets, a component of its own (app/openapi_schemas.py)."""
        if location in BODY_LOCATIONS and isinstance(schema, type):
            schema = request_schema(schema)
        return super().arguments(schema, location=location, **kwargs)

    def response(self, status_code, schema=None, **kwargs):
        note_answer(schema)  # its request schema, if any, is then named <Name>Input
        return super().response(status_code, schema, **kwargs)

    def alt_response(self, status_code, response=None, *, schema=None, **kwargs):
        note_answer(schema)
        return super().alt_response(status_code, response, schema=schema, **kwargs)

    def add_url_rule(self, rule, endpoint=None, view_func=None, *args, **kwargs):
        super().add_url_rule(rule, endpoint, view_func, *args, **kwargs)
        # flask-smorest may have renamed the endpoint: its docs are under the last one
        record_contract(self._docs[self._endpoints[-1]], view_func, rule)

    def route(self, rule, *, parameters=None, **options):
        given = {
            p.get("name")
            for p in parameters or ()
            if isinstance(p, Mapping) and p.get("in") == "path"
        }
        described = [
            {"in": "path", "name": name, "description": PATH_PARAMETERS[name]}
            for name in RULE_VARIABLE.findall(rule)
            if name in PATH_PARAMETERS and name not in given
        ]
        return super().route(rule, parameters=[*(parameters or ()), *described], **options)


class Resource(MethodView):
    """A MethodView whose request is one unit of work: commit on success, else roll back.

    A read answers 304 only once committed: what it recorded (who looked at whom) stays.
    """

    def dispatch_request(self, **kwargs: Any) -> Any:
        try:
            response = super().dispatch_request(**kwargs)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return not_modified(response)


#: Room for the multipart envelope and the other form fields around an upload.
FORM_OVERHEAD = 64 * 1024


def accepts_media(*media_types: str, max_bytes_setting: str | None = None):
    """Let a view method take bodies of other media types than JSON (uploads), optionally
    up to the size in setting ``max_bytes_setting`` instead of MAX_CONTENT_LENGTH."""

    def decorate(fn):
        fn._accepts_media = frozenset(media_types)
        fn._max_bytes_setting = max_bytes_setting
        return fn

    return decorate


def _view_method():
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    method = request.method.lower()
    if method == "head":
        method = "get"
    return getattr(view_class, method, None)


def _check_media_type() -> None:
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    has_body = bool(request.content_length) or "Transfer-Encoding" in request.headers
    if not has_body and not request.headers.get("Content-Type"):
        return
    view = _view_method()
    accepted = getattr(view, "_accepts_media", None)
    if request.is_json and (accepted is None or request.mimetype in accepted):
        return
    if accepted and request.mimetype in accepted:
        setting = getattr(view, "_max_bytes_setting", None)
        if setting:
            request.max_content_length = current_app.config[setting] + FORM_OVERHEAD
        return
    wanted = " or ".join(sorted(accepted)) if accepted else "application/json"
    raise UnsupportedMediaType(
        f"Send the body as {wanted} (got {request.mimetype or 'no Content-Type'})."
    )


def _storable(text: str) -> bool:
    """No NUL byte (PostgreSQL refuses it) and no lone surrogate (not encodable)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_unstorable(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return None if _storable(value) else path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and not _storable(key):
            return path or "_body"
        found = _first_unstorable(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def _check_text() -> None:
    """Parse a JSON body once (400 when it is not JSON) and refuse text no database stores."""
    fields = request.args.lists()
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = [*fields, *request.form.lists()]
    for name, values in fields:
        if not _storable(name) or not all(_storable(v) for v in values):
            raise Invalid({name: ["Contains characters that cannot be stored (NUL or invalid)."]})
    if not request.is_json or not request.get_data(cache=True):
        return
    try:
        body = request.get_json()
    except BadRequest:
        raise MalformedBody("The body is not valid JSON.") from None
    except RecursionError:
        raise MalformedBody("The JSON body is nested too deeply.") from None
    found = _first_unstorable(body, "")
    if found:
        raise Invalid({found: ["Contains characters that cannot be stored (NUL or invalid)."]})


class UriTooLong(DomainError):
    status, code, title = 414, "uri_too_long", "URI too long"


class HeadersTooLarge(DomainError):
    status, code, title = 431, "headers_too_large", "Request header fields too large"


def _header_fields(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's header fields as the server handed them over (values are latin-1 text:
    one character per byte; a server may have joined repeated fields with commas)."""
    fields = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            fields.append((key[5:], value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            fields.append((key, value))
    return fields


def _check_request_size() -> None:
    """Refuse an oversized URL (414) or header block (431) before any other work.

    gunicorn.conf.py lets gunicorn take somewhat more than these limits, so that the app,
    not gunicorn, answers what a client may plausibly send; see the README, "Production".
    """
    environ = request.environ
    # RAW_URI (gunicorn) and REQUEST_URI (werkzeug) are the target as sent, still encoded
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        query = environ.get("QUERY_STRING", "")
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        target += f"?{query}" if query else ""
    limit = current_app.config["MAX_URL_LENGTH"]
    if len(target) > limit:
        raise UriTooLong(f"The URL is {len(target)} bytes long; at most {limit} are accepted.")
    fields = _header_fields(environ)
    most = current_app.config["MAX_HEADER_COUNT"]
    if len(fields) > most:
        raise HeadersTooLarge(
            f"The request has {len(fields)} header fields; at most {most} are accepted."
        )
    size = sum(len(name) + len(value) + 4 for name, value in fields)  # "Name: value\r\n"
    largest = current_app.config["MAX_HEADER_BYTES"]
    if size > largest:
        raise HeadersTooLarge(
            f"The header fields take {size} bytes; at most {largest} are accepted."
        )


def register_request_hooks(app: Flask) -> None:
    """Before authentication: refuse oversized requests; every API request may write (reads
    of people are audited), so on SQLite its transaction begins IMMEDIATE."""

    app.before_request(_check_request_size)

    @app.before_request
    def _begin_unit_of_work() -> None:
        declare_write_intent(request.path.startswith("/api/v1/"))


CORS_EXPOSED = "ETag, Location, Retry-After, X-Request-ID, Idempotent-Replayed"
CORS_ALLOWED_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID"
)


def register_response_headers(app: Flask) -> None:
    """Security headers on every answer; CORS only for configured origins."""
    origins = {o.strip() for o in app.config["CORS_ORIGINS"].split(",") if o.strip()}

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/v1/"):
            headers["Cache-Control"] = "no-store"
        origin = request.headers.get("Origin")
        if origin and origin in origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
            headers.add("Vary", "Origin")
            if request.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE"
                headers["Access-Control-Allow-Headers"] = CORS_ALLOWED_HEADERS
                headers["Access-Control-Max-Age"] = "600"
        return response


def register_media_type_check(app: Flask) -> None:
    """After authentication (so a stranger learns nothing): bodies must be JSON we can store."""

    @app.before_request
    def _media_type() -> None:
        if request.routing_exception is None:
            _check_media_type()
            _check_text()


#: The document's words for fields that many resources share.
CLIENT_ID_DESCRIPTION = (
    "Client-chosen UUID, optional on create (the server picks one otherwise), so a device"
    " can refer to the record before it is sent. An id already taken is 409 `duplicate_id`:"
    " a retried create never makes a second record. Fixed once created."
)
VERSION_DESCRIPTION = (
    "Set by the server: goes up with every change to the record. To change it, send the"
    " `ETag` of your last read in `If-Match`."
)


# --- cursor pagination -------------------------------------------------------------------


class EmptySchema(ma.Schema):
    """The body of an action that needs no data (an empty object, or no body)."""


class PageArgsSchema(ma.Schema):
    """Cursor pagination: ``limit`` and the ``cursor`` of the page before."""

    limit = ma.fields.Integer(
        load_default=50,
        validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Items per page: 1 to {MAX_PAGE_SIZE}, 50 when not given"},
    )
    cursor = ma.fields.String(
        load_default=None,
        metadata={
            "description": "The `next_cursor` of the previous page, as given (opaque, signed);"
            " leave out for the first page"
        },
    )


_page_schemas: dict[type, type] = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The schema of one page of ``item_schema`` items: ``{items, next_cursor}``."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (ma.Schema,),
            {
                "__doc__": f"One page of {item_schema.__name__.removesuffix('Schema')} items"
                " (cursor pagination).",
                "items": ma.fields.List(
                    ma.fields.Nested(item_schema),
                    required=True,
                    metadata={"description": "This page's items, in the list's order"},
                ),
                "next_cursor": ma.fields.String(
                    allow_none=True,
                    required=True,
                    metadata={
                        "description": "Send as `cursor` to get the next page; null on the"
                        " last page"
                    },
                ),
            },
        )
    return _page_schemas[item_schema]


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def _decode_value(column: InstrumentedAttribute, raw: Any) -> Any:
    """One cursor value back into the column's type; ValueError when it cannot be one."""
    python_type = column.type.python_type
    if python_type in (dt.datetime, dt.date, uuid.UUID, decimal.Decimal) and not isinstance(
        raw, str
    ):
        raise ValueError(raw)
    if python_type is decimal.Decimal:
        try:
            return decimal.Decimal(raw)
        except decimal.InvalidOperation:
            raise ValueError(raw) from None
    if python_type is dt.datetime:
        value = dt.datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError(raw)
        return value.astimezone(dt.UTC)
    if python_type is dt.date:
        return dt.date.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type in (int, str) and type(raw) is python_type:
        return raw
    raise ValueError(raw)


def paginate(
    stmt: sa.Select,
    order: Sequence[tuple[InstrumentedAttribute, bool]],
    *,
    limit: int,
    cursor: str | None,
    load: Callable[[sa.Select], list[Any]] | None = None,
    seen: Callable[[list[Any]], None] | None = None,
) -> tuple[list[Any], str | None]:
    """Run ``stmt`` one keyset page at a time.

    ``order`` is a list of ``(column, descending)`` whose last column is unique; the cursor
    carries the last row's values of those columns, so page 200 costs what page 1 costs.
    ``load`` runs the final statement (default: the ORM objects it selects); ``seen`` is
    given the rows of the page, exactly those the client gets (to audit the look).
    """
    if cursor:
        try:
            values = _decode_cursor(cursor, order)
        except (ValueError, TypeError, OverflowError, RecursionError, UnicodeDecodeError):
            raise Invalid({"cursor": ["Not a cursor this list gave out."]}) from None
        alternatives = []
        for i, (col, descending) in enumerate(order):
            equal = [order[j][0] == values[j] for j in range(i)]
            beyond = col < values[i] if descending else col > values[i]
            alternatives.append(sa.and_(*equal, beyond))
        stmt = stmt.where(sa.or_(*alternatives))
    stmt = stmt.order_by(*(col.desc() if desc else col.asc() for col, desc in order))
    stmt = stmt.limit(limit + 1)
    rows = load(stmt) if load else list(db.session.scalars(stmt))
    page = rows[:limit]
    if seen is not None:
        seen(page)
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, _encode_cursor([_encode_value(getattr(last, col.key)) for col, _ in order])


def _signature(payload: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:24]


def _encode_cursor(values: list[Any]) -> str:
    """The last row's keys, signed: a client cannot forge where a page starts."""
    payload = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return f"{payload}.{_signature(payload)}"


def _decode_cursor(cursor: str, order: Sequence[tuple[InstrumentedAttribute, bool]]) -> list:
    payload, _, signature = cursor.partition(".")
    if not hmac.compare_digest(signature, _signature(payload)):
        raise ValueError(cursor)
    try:
        raw = json.loads(base64.urlsafe_b64decode(payload.encode() + b"=" * (-len(payload) % 4)))
    except binascii.Error:
        raise ValueError(cursor) from None
    if not isinstance(raw, list) or len(raw) != len(order):
        raise ValueError(cursor)
    return [_decode_value(col, v) for (col, _), v in zip(order, raw, strict=True)]


# Request and answer headers in the document: ETag, If-Match and If-None-Match in
# app/etags.py; Idempotency-Key, X-Request-ID, Location, Retry-After and
# Idempotent-Replayed in app/openapi.py, from what each view declares.
