"""Field constructors the domain schemas share.

Most fields of a request or an answer are one of a few kinds: text with a length limit
(one that must say something, or any), a code from a fixed list, a value only the server
sets, the client-chosen id, the record's version. Each kind is built here, once, so
that its validation and its words in the OpenAPI document are the same in every schema.

Each constructor returns a plain marshmallow field with its description in ``metadata``:
the document is derived from it as from any other field (``app/openapi_schemas.py``: a
``dump_only`` field is left out of a request body, ``SET_BY_SERVER`` values out of its
enum). Other keyword arguments (``required``, ``allow_none``, ``load_only`` …) go to the
field as they are. Schemas import the module, ``from app import schema_fields as sf``, so
that ``sf.text`` stands apart from marshmallow's ``fields.String``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from marshmallow import fields, validate

from app.openapi_schemas import SET_BY_SERVER
from app.web.fields import CLIENT_ID_DESCRIPTION, NOT_BLANK, VERSION_DESCRIPTION

#: The longest free text kept: notes, reasons, places described in words.
MAX_TEXT = 4000
#: The document's words for a record's free-text notes.
FREE_TEXT = "Free text (at most 4000 characters)"

Field = TypeVar("Field", bound=fields.Field)


def about(description: str) -> dict[str, Any]:
    """The keyword arguments that give a field its description in the document."""
    return {"metadata": {"description": description}}


def text(
    max_length: int,
    description: str,
    *,
    min_length: int | None = None,
    not_blank: bool = False,
    **kwargs: Any,
) -> fields.String:
    """Text of at most ``max_length`` characters (and at least ``min_length``).
    ``not_blank``: it must say something, not only spaces (a name, a place, a reason)."""
    length = validate.Length(min=min_length, max=max_length)
    checks = [length, NOT_BLANK] if not_blank else length
    return fields.String(validate=checks, **about(description), **kwargs)


def required_reason(description: str) -> fields.String:
    """Why a decision was taken, required: free text that must say something."""
    return text(MAX_TEXT, description, not_blank=True, required=True)


def code(
    values: Sequence[str],
    description: str,
    *,
    server_only: Sequence[str] = (),
    **kwargs: Any,
) -> fields.String:
    """One of ``values``. ``server_only``: those of them a client never sends (left out of
    a request body's enum in the document; the server refuses them)."""
    metadata: dict[str, Any] = {"description": description}
    if server_only:
        metadata[SET_BY_SERVER] = tuple(server_only)
    return fields.String(validate=validate.OneOf(values), metadata=metadata, **kwargs)


def read_only(field_class: type[Field], description: str, **kwargs: Any) -> Field:
    """A value only the server sets: in answers, never in a request body (sent: 422)."""
    return field_class(dump_only=True, **about(description), **kwargs)


def read_only_or_null(field_class: type[Field], description: str) -> Field:
    """A value the server sets once something has happened (a review, a departure), null
    until then."""
    return read_only(field_class, description, allow_none=True)


def client_id() -> fields.UUID:
    """The record's id, which the client may choose on create (offline devices do)."""
    return fields.UUID(**about(CLIENT_ID_DESCRIPTION))


def record_version() -> fields.Integer:
    """The record's version, which its ETag carries; set by the server."""
    return read_only(fields.Integer, VERSION_DESCRIPTION)
