"""Cursor pagination: every list answers one keyset page ``{items, next_cursor}``.

A view declares its list with ``Blueprint.paged`` (the query arguments, the ETag and the
page schema ``page_of``) and answers ``page(stmt, order, args)``. The cursor carries the
last row's values of the ordering columns, signed with the app's secret: page 200 costs
what page 1 costs, and a client cannot forge where a page starts.
"""

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
from flask import current_app
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import Invalid
from app.extensions import db

MAX_PAGE_SIZE = 200
#: ``(column, descending)`` pairs; the last column is unique.
Order = Sequence[tuple[InstrumentedAttribute, bool]]


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


def filters(args: Mapping[str, Any]) -> dict[str, Any]:
    """A list's query arguments without the page's own (``limit``, ``cursor``)."""
    return {name: value for name, value in args.items() if name not in ("limit", "cursor")}


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


def page(
    stmt: sa.Select,
    order: Order,
    args: Mapping[str, Any],
    *,
    load: Callable[[sa.Select], list[Any]] | None = None,
    seen: Callable[[list[Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``stmt`` one keyset page at a time: the page after ``args["cursor"]`` (the first
    without one), ``args["limit"]`` items long, as ``page_of`` answers it.

    ``order`` is a list of ``(column, descending)`` whose last column is unique. ``load``
    runs the final statement (default: the ORM objects it selects); ``seen`` is given the
    rows of the page, exactly those the client gets (to audit the look).
    """
    limit, cursor = args["limit"], args["cursor"]
    if cursor:
        stmt = stmt.where(_after(order, cursor))
    stmt = stmt.order_by(*(col.desc() if desc else col.asc() for col, desc in order))
    stmt = stmt.limit(limit + 1)
    rows = load(stmt) if load else list(db.session.scalars(stmt))
    items = rows[:limit]
    if seen is not None:
        seen(items)
    if len(rows) <= limit:
        return {"items": items, "next_cursor": None}
    last = items[-1]
    values = [_encode_value(getattr(last, col.key)) for col, _ in order]
    return {"items": items, "next_cursor": _encode_cursor(values)}


def _after(order: Order, cursor: str) -> sa.ColumnElement[bool]:
    """The rows that come after the one the cursor names, in ``order``."""
    try:
        values = _decode_cursor(cursor, order)
    except (ValueError, TypeError, OverflowError, RecursionError, UnicodeDecodeError):
        raise Invalid({"cursor": ["Not a cursor this list gave out."]}) from None
    alternatives = []
    for i, (col, descending) in enumerate(order):
        equal = [order[j][0] == values[j] for j in range(i)]
        beyond = col < values[i] if descending else col > values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


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


def _signature(payload: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:24]


def _encode_cursor(values: list[Any]) -> str:
    """The last row's keys, signed: a client cannot forge where a page starts."""
    payload = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return f"{payload}.{_signature(payload)}"


def _decode_cursor(cursor: str, order: Order) -> list:
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
