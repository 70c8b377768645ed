"""Oversized requests: a URL (414) or a header block (431) refused before any other work.

gunicorn.conf.py lets gunicorn take somewhat more than these limits, so that the app, not
gunicorn, answers what a client may plausibly send; see the README, "Production".
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request

from app.errors import DomainError


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
    """Refuse an oversized URL (414) or header block (431)."""
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


def register_request_limits(app: Flask) -> None:
    """Before authentication: refuse oversized requests."""
    app.before_request(_check_request_size)
