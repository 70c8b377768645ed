"""What a request body may be: JSON unless a view accepts more (415), JSON that parses
(400), and text every database stores (422). Checked after authentication, so that a
stranger learns nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest

from app.errors import DomainError, Invalid, UnsupportedMediaType

#: Room for the multipart envelope and the other form fields around an upload.
FORM_OVERHEAD = 64 * 1024
UNSTORABLE = "Contains characters that cannot be stored (NUL or invalid)."


class MalformedBody(DomainError):
    status, code, title = 400, "malformed_body", "Malformed request body"


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
            raise Invalid({name: [UNSTORABLE]})
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
        raise Invalid({found: [UNSTORABLE]})


def register_media_type_check(app: Flask) -> None:
    """After authentication (so a stranger learns nothing): bodies must be JSON we can store."""

    @app.before_request
    def _media_type() -> None:
        if request.routing_exception is None:
            _check_media_type()
            _check_text()
