"""/api/docs without a browser: only this origin's files, no inline script or style, the
page's own Content-Security-Policy, only the listed files, and the API_DOCS switch.

(tests/contract/test_docs_browser.py renders the page in headless Chromium.)
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import config
from app.docs import ASSETS, CONTENT_SECURITY_POLICY

PROBLEM = "application/problem+json"
PRODUCTION = {
    "SAFEPASSAGE_ENV": "production",
    "SAFEPASSAGE_SECRET_KEY": "a-long-random-production-secret-4d1c9e",
    "SAFEPASSAGE_AUDIT_KEY": "another-long-random-audit-chain-key-7f02b8",
    "SAFEPASSAGE_DATABASE_URL": "postgresql+psycopg://safepassage@db.internal/safepassage",
    "SAFEPASSAGE_RATELIMIT_STORAGE_URI": "redis://cache.internal:6379/0",
    "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH": "/var/lib/safepassage/audit-checkpoints.jsonl",
}


class PageParts(HTMLParser):
    """The URLs a page loads, its scripts' inline text, and any inline style or handler."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href", "action", "data-openapi-url"):
                self.urls.append(value or "")
            if name == "style" or name.startswith("on"):
                self.inline_styles.append(f"<{tag} {name}>")
        if tag == "style":
            self.inline_styles.append("<style>")
        if tag == "script":
            self._in_script = True
            if "src" not in attributes:
                self.inline_scripts.append("<script> without src")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


@pytest.fixture
def page(anonymous):
    response = anonymous.get("/api/docs")
    assert response.status_code == 200
    parts = PageParts()
    parts.feed(response.get_data(as_text=True))
    return response, parts


def test_the_page_loads_only_this_origins_files(page):
    response, parts = page
    assert parts.urls
    for url in parts.urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert not re.search(r"(?i)https?:|//[a-z0-9.-]+\.[a-z]", response.get_data(as_text=True))


def test_the_page_has_no_inline_script_or_style(page):
    _response, parts = page
    assert not parts.inline_scripts
    assert not parts.inline_styles


def test_the_page_and_its_files_carry_the_strict_policy(page, anonymous):
    response, parts = page
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    for url in parts.urls:
        if url.startswith("/api/docs/"):
            asset = anonymous.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert asset.cache_control.public and asset.cache_control.max_age >= 3600, url


def test_every_listed_file_is_served_with_its_type(anonymous):
    for name, asset in ASSETS.items():
        response = anonymous.get(f"/api/docs/{name}")
        assert response.status_code == 200, name
        assert response.mimetype == asset.mimetype
        assert response.get_data()
    bundle = anonymous.get("/api/docs/swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle


def test_a_file_is_not_sent_again_while_it_is_current(anonymous):
    first = anonymous.get("/api/docs/init.js")
    again = anonymous.get("/api/docs/init.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert not again.get_data()


@pytest.mark.parametrize(
    "path",
    [
        "/api/docs/LICENSE",  # in the package, not needed by the page
        "/api/docs/oauth2-redirect.html",
        "/api/docs/swagger-ui.js",
        "/api/docs/../docs.py",
        "/api/docs/..%2F..%2Fconfig%2Fdefaults.py",
        "/api/docs/%2e%2e%2fapp%2fdocs.py",
        "/api/docs/..%5C..%5Cpyproject.toml",
        "/api/docs/dist%2Fswagger-ui.css",
        "/api/docs/docs_assets%2Finit.js",
        "/api/docs/nothing.js",
    ],
)
def test_no_other_file_is_served(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 404, path
    assert response.mimetype == PROBLEM


def test_switched_off_the_page_is_gone_and_the_document_stays(app, anonymous, monkeypatch):
    monkeypatch.setitem(app.config, "API_DOCS", False)
    for path in ("/api/docs", "/api/docs/init.js", "/api/docs/swagger-ui-bundle.js"):
        response = anonymous.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == PROBLEM
    document = anonymous.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert "/api/v1/households" in document.get_json()["paths"]


def test_the_page_is_off_in_production_unless_switched_on():
    assert config.load("development", environ={})["API_DOCS"] is True
    assert config.load("testing", environ={})["API_DOCS"] is True
    assert config.load(environ=PRODUCTION)["API_DOCS"] is False
    assert config.load(environ={**PRODUCTION, "SAFEPASSAGE_API_DOCS": "1"})["API_DOCS"] is True
    assert config.load("development", environ={"SAFEPASSAGE_API_DOCS": "0"})["API_DOCS"] is False


def test_smorest_serves_no_page_of_its_own(app):
    assert not app.config.get("OPENAPI_SWAGGER_UI_PATH")
    assert not app.config.get("OPENAPI_SWAGGER_UI_URL")
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert "api-docs.openapi_swagger_ui" not in endpoints
