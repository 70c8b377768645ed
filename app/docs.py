"""The API documentation page at /api/docs: Swagger UI that works offline.

Swagger UI's files come from the pinned PyPI package ``flask-swagger-ui`` (its ``dist``
folder), installed with the app: a field office without internet still sees the page, and a
page where staff paste bearer tokens runs no third-party script. Only the files come from
it: its own blueprint starts Swagger UI from an inline ``<script>``, which the page's
Content-Security-Policy forbids; the page here loads ``docs_assets/init.js`` instead.

``API_DOCS`` (``SAFEPASSAGE_API_DOCS``) switches the page off (404); the document itself,
/api/v1/openapi.json, is served by flask-smorest either way.
"""

from __future__ import annotations

import functools
import hashlib
import html
from importlib import resources
from typing import NamedTuple

from flask import Blueprint, Response, current_app, url_for

from app.errors import NotFound
from app.etags import not_modified

#: The blueprint's name; app/auth/access.py lists it among the routes needing no token.
BLUEPRINT_NAME = "docs-page"

#: Only this origin, for everything the page loads, runs or sends.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # swagger-ui-bundle.js and init.js, both served below; no inline script, no eval
        "script-src 'self'",
        # swagger-ui.css and index.css; Swagger UI's few dynamic styles are set through the
        # DOM (element.style), which a policy without 'unsafe-inline' still allows
        "style-src 'self'",
        # swagger-ui.css draws its icons as SVG images inlined in data: URLs
        "img-src 'self' data:",
        # the document and "Try it out" calls go to this origin only
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: The files are pinned and their URLs carry a digest of their content (``?v=``).
ASSET_CACHE_SECONDS = 86400


class Asset(NamedTuple):
    package: str
    path: str
    mimetype: str


#: The files the page needs, and nothing else from the package (404 for any other name).
SWAGGER_UI = "flask_swagger_ui"
JS, CSS, PNG = "text/javascript", "text/css", "image/png"
ASSETS = {
    "swagger-ui-bundle.js": Asset(SWAGGER_UI, "dist/swagger-ui-bundle.js", JS),
    "swagger-ui.css": Asset(SWAGGER_UI, "dist/swagger-ui.css", CSS),
    "index.css": Asset(SWAGGER_UI, "dist/index.css", CSS),
    "favicon-32x32.png": Asset(SWAGGER_UI, "dist/favicon-32x32.png", PNG),
    "favicon-16x16.png": Asset(SWAGGER_UI, "dist/favicon-16x16.png", PNG),
    "init.js": Asset("app", "docs_assets/init.js", JS),
}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Safe Passage API</title>
<link rel="stylesheet" href="{index.css}">
<link rel="stylesheet" href="{swagger-ui.css}">
<link rel="icon" type="image/png" href="{favicon-32x32.png}" sizes="32x32">
<link rel="icon" type="image/png" href="{favicon-16x16.png}" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{swagger-ui-bundle.js}"></script>
<script src="{init.js}"></script>
</body>
</html>
"""

blp = Blueprint(BLUEPRINT_NAME, __name__)


@functools.cache
def _content(name: str) -> tuple[bytes, str]:
    """The asset's bytes and a digest of them (its ETag and cache-busting token)."""
    asset = ASSETS[name]
    data = resources.files(asset.package).joinpath(asset.path).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:20]


def _asset_url(name: str) -> str:
    return url_for(f"{BLUEPRINT_NAME}.asset", asset=name, v=_content(name)[1])


@blp.before_request
def _docs_switched_on() -> None:
    if not current_app.config["API_DOCS"]:
        raise NotFound("The API documentation page is switched off here (API_DOCS).")


@blp.after_request
def _only_this_origin(response: Response) -> Response:
    # set here, so app/web/headers.py's default policy (set only where none is) gives way
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@blp.get("/api/docs")
def page() -> Response:
    urls = {name: _asset_url(name) for name in ASSETS}
    urls["openapi"] = url_for("api-docs.openapi_json")
    body = PAGE
    for key, url in urls.items():
        body = body.replace("{" + key + "}", html.escape(url, quote=True))
    response = current_app.response_class(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/api/docs/<asset>")
def asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise NotFound("No such file of the documentation page.")
    data, digest = _content(asset)
    response = current_app.response_class(data, mimetype=ASSETS[asset].mimetype)
    response.set_etag(digest)
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_CACHE_SECONDS
    # not werkzeug's make_conditional: a browser holding the gzipped file sends back
    # flask-compress's form of the tag ("digest:gzip"), which not_modified understands
    return not_modified(response)
