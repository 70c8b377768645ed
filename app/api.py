"""The flask-smorest Api: OpenAPI document, error schema and error handlers."""

from __future__ import annotations

import inspect

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api

from app.error_handlers import register_error_handlers
from app.errors import ProblemSchema
from app.etags import register_etag_components
from app.openapi_components import register_components
from app.openapi_schemas import ContractMarshmallowPlugin


class SafePassageApi(Api):
    """flask-smorest's Api whose errors are RFC 9457 problems, in the document too."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)

    def _register_responses(self) -> None:
        """Problem answers, headers and header parameters that operations share
        (app/openapi_components.py; app/openapi.py documents each operation's contract)."""
        register_components(
            self.spec,
            self.ERROR_SCHEMA,
            self.DEFAULT_ERROR_RESPONSE_NAME,
            idempotency_ttl_hours=self._app.config["IDEMPOTENCY_TTL_HOURS"],
        )

    def _register_pagination_header(self) -> None:
        """None: our lists are cursor pages (app/web/pagination.py ``page_of``), not flask-smorest's
        offset pages, whose ``PaginationMetadata`` schema would be documented for nothing."""

    def _register_etag_headers(self) -> None:
        register_etag_components(self.spec)


class SchemaDocstringPlugin(BasePlugin):
    """A schema class's docstring is its description in the document: apispec itself reads
    only ``Meta.description``, and one text for both readers cannot drift apart."""

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        schema_class = schema if isinstance(schema, type) else type(schema)
        doc = schema_class.__dict__.get("__doc__")
        if doc and "description" not in definition:
            return {"description": inspect.cleandoc(doc)}
        return None


#: Components typed as what crosses the wire (request bodies of their own, what answers
#: always carry required): app/openapi_schemas.py.
api = SafePassageApi(
    spec_kwargs={
        "marshmallow_plugin": ContractMarshmallowPlugin(),
        "extra_plugins": [SchemaDocstringPlugin()],
    }
)

#: The version of the API contract (semver), as info.version and GET /api/v1/version tell it:
#: the major is the URL's /api/v1; a minor release adds (operations, optional request
#: fields, answer fields, documented answers) without breaking a generated client; a patch
#: only mends the document's text. A new value in an answer's enum IS a breaking change: a
#: generated client refuses a value it does not know (openapi-python-client raises).
API_VERSION = "1.1.0"

API_SETTINGS = {
    "API_TITLE": "Safe Passage",
    "API_VERSION": API_VERSION,
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    # no OPENAPI_SWAGGER_UI_*: app/docs.py serves the page from a pinned, offline copy
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Case tracking for evacuation teams. Authenticate with "
                "`POST /api/v1/auth/tokens`, then send `Authorization: Bearer <token>`."
            )
        },
        # relative: the document is served by the server it describes (paths carry /api/v1)
        "servers": [{"url": "/", "description": "The server that serves this document"}],
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    },
}


def init_api(app: Flask) -> None:
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api.init_app(app)
