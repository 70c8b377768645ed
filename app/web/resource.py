"""A request is one unit of work: ``Resource`` runs its view through app/unit_of_work.py.
What a view hands its service (``if_match``) and answers when it made something
(``created``); API requests declare that they may write."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, url_for
from flask.views import MethodView

from app import unit_of_work
from app.etags import SchemaLike, not_modified, require_if_match
from app.extensions import declare_write_intent


class Resource(MethodView):
    """A MethodView whose request is one unit of work (``unit_of_work.run``): commit on
    success, else roll back.

    A read answers 304 only once committed: what it recorded (who looked at whom) stays.
    """

    def dispatch_request(self, **kwargs: Any) -> Any:
        response = unit_of_work.run(functools.partial(super().dispatch_request, **kwargs))
        return not_modified(response)


def if_match(schema: SchemaLike) -> Callable[[Any], None]:
    """The ``precondition`` a view hands a service that changes a record: the request's
    If-Match against the record as ``schema`` answers it, which the service checks on the
    row it has just locked (app/etags.py ``require_if_match``)."""
    return functools.partial(require_if_match, schema=schema)


def created(resource: Any, endpoint: str) -> tuple[Any, int, dict[str, str]]:
    """A 201 answer: ``resource``, and in ``Location`` where it can be read: the path of
    ``endpoint`` (``.Name``: the view ``Name`` of this blueprint), each of its variables
    taken from this request's path, the one this path does not name being the new record's
    ``id`` (``.PersonById`` after ``POST /households/<id>/members``: the new person's)."""
    if endpoint.startswith("."):
        endpoint = f"{request.blueprint}{endpoint}"
    (rule,) = current_app.url_map.iter_rules(endpoint)
    known = request.view_args or {}
    values = {name: known[name] for name in rule.arguments & known.keys()}
    values.update((name, resource.id) for name in rule.arguments - known.keys())
    return resource, 201, {"Location": url_for(endpoint, **values)}


def register_write_intent(app: Flask) -> None:
    """Every API request may write (reads of people are audited), so on SQLite its
    transaction begins IMMEDIATE."""

    @app.before_request
    def _begin_unit_of_work() -> None:
        declare_write_intent(request.path.startswith("/api/v1/"))
