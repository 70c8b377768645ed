"""The Blueprint every domain's api.py declares its operations on.

flask-smorest's, with the strict argument parser, every path parameter described in the
document, the representation ETags of app/etags.py, and one call per operation for the
decorators flask-smorest stacks (``operation``; ``paged`` for a list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from app.etags import RepresentationEtagMixin
from app.openapi import RULE_VARIABLE, document_contract, record_contract
from app.openapi_schemas import BODY_LOCATIONS, note_answer, request_schema
from app.web.pagination import PageArgsSchema, page_of


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

    def operation(
        self,
        operation_id: str,
        answer: type[ma.Schema] | None = None,
        *,
        status: int = 200,
        body: type[ma.Schema] | None = None,
        query: type[ma.Schema] | None = None,
        etag: bool = True,
        refusals: Mapping[int, str] | None = None,
        **arguments: Any,
    ):
        """One operation's flask-smorest decorators, stacked in the order flask-smorest
        needs: ``@doc(operationId=...)``; ``@arguments`` for its ``body`` (JSON unless
        ``location=`` says otherwise; ``arguments`` are the rest of ``@arguments``:
        ``example``, ``required``, ...) or its ``query``; ``@etag`` unless ``etag=False``;
        ``@response(status, answer)``; and an ``@alt_response`` for each refusal it
        documents itself (``refusals``: status -> when it answers so).

        ``@roles`` (or ``@public``) and ``@idempotent`` stay the view's own decorators,
        above this one: who may call it, and whether a retry replays.
        """
        decorators = [self.doc(operationId=operation_id)]
        if body is not None:
            decorators.append(self.arguments(body, **arguments))
        if query is not None:
            decorators.append(self.arguments(query, location="query"))
        if etag:
            decorators.append(self.etag)
        decorators.append(self.response(status, answer))
        for code, description in (refusals or {}).items():
            decorators.append(self.alt_response(code, description=description))

        def decorate(view):
            for decorator in reversed(decorators):
                view = decorator(view)
            return view

        return decorate

    def paged(
        self,
        operation_id: str,
        item_schema: type[ma.Schema],
        *,
        args: type[PageArgsSchema] = PageArgsSchema,
    ):
        """A list's decorators: its query arguments (``args``: PageArgsSchema or one with
        the list's filters too), its ETag, and one page of ``item_schema`` as its answer.
        The view answers ``page(stmt, order, args)`` (app/web/pagination.py)."""
        return self.operation(operation_id, page_of(item_schema), query=args)

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
