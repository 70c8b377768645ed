"""The flask-smorest Api: OpenAPI document, error schema and error handlers."""

from __future__ import annotations

import http

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from app.errors import PROBLEM_MEDIA_TYPE, ProblemSchema, register_error_handlers


class SafePassageApi(Api):
    """flask-smorest's Api whose errors are RFC 9457 problems, in the document too."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


api = SafePassageApi()

API_SETTINGS = {
    "API_TITLE": "Safe Passage",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Case tracking for evacuation teams. Authenticate with "
                "`POST /api/v1/auth/tokens`, then send `Authorization: Bearer <token>`."
            )
        },
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    },
}


def init_api(app: Flask) -> None:
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api.init_app(app)
