"""GET /api/v1/version: which API contract and which build a client is talking to.

Public, so that a client can check compatibility before it asks anyone to log in.
"""

from __future__ import annotations

import functools
from importlib import metadata

import marshmallow as ma
from flask import current_app

from app.auth.access import public
from app.web.blueprint import Blueprint
from app.web.resource import Resource

#: The distribution whose version names the build when the deployment names none.
DISTRIBUTION = "safe-passage"

blp = Blueprint(
    "version",
    __name__,
    url_prefix="/api/v1",
    description="Which API version and build the server runs",
)


class VersionSchema(ma.Schema):
    """The API contract's version and the server's build."""

    api_version = ma.fields.String(
        required=True,
        metadata={
            "description": (
                "The version of the API contract (semver), the same as the OpenAPI "
                "document's `info.version`. The major is the URL's `/api/v1`; a higher "
                "minor only adds to what a client generated from an older one can use."
            ),
            "example": "1.1.0",
        },
    )
    build = ma.fields.String(
        required=True,
        metadata={
            "description": (
                "Which build of the server answers: what the deployment set "
                "(`SAFEPASSAGE_BUILD`, e.g. a git commit), else the package version. "
                "For bug reports; not for compatibility checks."
            ),
            "example": "0.1.0",
        },
    )


@functools.cache
def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_id() -> str:
    return current_app.config["BUILD"].strip() or package_version()


@blp.route("/version")
class Version(Resource):
    @public
    @blp.doc(operationId="getVersion", security=[])
    @blp.response(200, VersionSchema)
    def get(self):
        """The API version and build, to check compatibility before logging in"""
        return {"api_version": current_app.config["API_VERSION"], "build": build_id()}
