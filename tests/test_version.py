"""GET /api/v1/version: the contract's version (the document's info.version) and the build,
to anyone, before logging in."""

from __future__ import annotations

import re
from importlib import metadata

from app.api import API_VERSION

SEMVER = re.compile(r"\d+\.\d+\.\d+")


def test_anyone_learns_the_api_version_and_the_build(anonymous):
    response = anonymous.get("/api/v1/version")
    assert response.status_code == 200
    assert response.get_json() == {
        "api_version": API_VERSION,
        "build": metadata.version("safe-passage"),
    }
    assert SEMVER.fullmatch(API_VERSION)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_version_is_the_documents(anonymous):
    document = anonymous.get("/api/v1/openapi.json").get_json()
    version = anonymous.get("/api/v1/version").get_json()["api_version"]
    assert document["info"]["version"] == version
    assert document["paths"]["/api/v1/version"]  # the major is the URL's
    assert version.split(".")[0] == "1"


def test_the_deployment_names_the_build(app, anonymous, monkeypatch):
    monkeypatch.setitem(app.config, "BUILD", "3f9c2e1")
    assert anonymous.get("/api/v1/version").get_json()["build"] == "3f9c2e1"
    monkeypatch.setitem(app.config, "BUILD", "  ")
    assert anonymous.get("/api/v1/version").get_json()["build"] == metadata.version("safe-passage")


def test_a_token_is_neither_needed_nor_in_the_way(as_field_worker):
    response = as_field_worker.get("/api/v1/version")
    assert response.status_code == 200
    assert response.get_json()["api_version"] == API_VERSION


def test_the_operation_is_documented(anonymous):
    document = anonymous.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/version"]["get"]
    assert operation["operationId"] == "getVersion"
    assert operation["security"] == []
    assert operation["summary"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"api_version", "build"}
    for name in ("api_version", "build"):
        assert schema["properties"][name]["type"] == "string"
        assert schema["properties"][name]["description"], name
