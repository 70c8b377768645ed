"""The served OpenAPI document is a contract a client can be generated from.

It is valid OpenAPI 3; every operation has its pinned operationId (renaming one renames a
generated function: it must be deliberate), a summary, the roles the app enforces, its
problem answers with the problem schema, and the headers that apply; what it promises about
bodies and headers is what the API does.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from openapi_spec_validator import validate

from app.auth.access import PUBLIC, access_policy
from app.auth.models import ROLES
from app.openapi import ROLE_NAMES, RULE_VARIABLE
from tests.conftest import png_bytes

V1 = "/api/v1"
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("post", "/auth/tokens"): "logIn",
    ("delete", "/auth/tokens/current"): "logOut",
    ("get", "/me"): "getMe",
    ("get", "/teams"): "listTeams",
    ("post", "/teams"): "createTeam",
    ("get", "/users"): "listUsers",
    ("post", "/users"): "createUser",
    ("get", "/users/{user_id}"): "getUser",
    ("patch", "/users/{user_id}"): "updateUser",
    ("delete", "/users/{user_id}/tokens"): "revokeUserTokens",
    ("get", "/households"): "listHouseholds",
    ("post", "/households"): "createHousehold",
    ("get", "/households/{household_id}"): "getHousehold",
    ("patch", "/households/{household_id}"): "updateHousehold",
    ("post", "/households/{household_id}/status"): "changeHouseholdStatus",
    ("get", "/households/{household_id}/members"): "listMembers",
    ("post", "/households/{household_id}/members"): "addMember",
    ("get", "/persons/{person_id}"): "getPerson",
    ("patch", "/persons/{person_id}"): "updatePerson",
    ("get", "/persons/{person_id}/guardians"): "listGuardians",
    ("post", "/persons/{person_id}/guardians"): "addGuardian",
    ("get", "/guardianships/{guardianship_id}"): "getGuardianship",
    ("patch", "/guardianships/{guardianship_id}"): "updateGuardianship",
    ("get", "/households/{household_id}/visits"): "listVisits",
    ("post", "/households/{household_id}/visits"): "logVisit",
    ("get", "/consents"): "listConsents",
    ("post", "/consents"): "recordConsent",
    ("get", "/consents/{consent_id}"): "getConsent",
    ("post", "/consents/{consent_id}/verify"): "verifyConsent",
    ("post", "/consents/{consent_id}/reject"): "rejectConsent",
    ("post", "/consents/{consent_id}/revoke"): "revokeConsent",
    ("get", "/persons/{person_id}/eligibility"): "getEligibility",
    ("get", "/households/{household_id}/timeline"): "listHouseholdTimeline",
    ("get", "/housing-offers"): "listHousingOffers",
    ("post", "/housing-offers"): "createHousingOffer",
    ("get", "/housing-offers/{offer_id}"): "getHousingOffer",
    ("patch", "/housing-offers/{offer_id}"): "updateHousingOffer",
    ("post", "/housing-offers/{offer_id}/photos"): "uploadOfferPhoto",
    ("get", "/housing-offers/{offer_id}/photos/{photo_id}"): "downloadOfferPhoto",
    ("delete", "/housing-offers/{offer_id}/photos/{photo_id}"): "deleteOfferPhoto",
    ("get", "/households/{household_id}/housing-matches"): "listHousingMatches",
    ("get", "/households/{household_id}/housing-proposals"): "listHousingProposals",
    ("post", "/households/{household_id}/housing-proposals"): "proposeHousing",
    ("post", "/housing-proposals/{proposal_id}/show"): "showProposal",
    ("post", "/housing-proposals/{proposal_id}/accept"): "acceptProposal",
    ("post", "/housing-proposals/{proposal_id}/decline"): "declineProposal",
    ("post", "/housing-proposals/{proposal_id}/withdraw"): "withdrawProposal",
    ("get", "/evacuations"): "listEvacuations",
    ("post", "/evacuations"): "planEvacuation",
    ("get", "/evacuations/{evacuation_id}"): "getEvacuation",
    ("post", "/evacuations/{evacuation_id}/members"): "addEvacuationMember",
    ("delete", "/evacuations/{evacuation_id}/members/{person_id}"): "removeEvacuationMember",
    ("post", "/evacuations/{evacuation_id}/depart"): "departEvacuation",
    ("post", "/evacuations/{evacuation_id}/arrive"): "arriveEvacuation",
    ("post", "/evacuations/{evacuation_id}/cancel"): "cancelEvacuation",
    ("get", "/audit-events"): "listAuditEvents",
    ("get", "/audit-events/verify"): "verifyAuditTrail",
    ("get", "/reports/summary"): "getSummaryReport",
    ("get", "/version"): "getVersion",
}
#: Rule refusals whose problem lists ``reasons``: the status must say so.
REFUSALS_WITH_REASONS = {
    ("post", "/evacuations/{evacuation_id}/members"): "409",
    ("post", "/evacuations/{evacuation_id}/depart"): "409",
    ("delete", "/evacuations/{evacuation_id}/members/{person_id}"): "409",
    ("post", "/consents"): "422",
}
#: Actions that need no data: a client may send no body at all.
BODILESS_ACTIONS = [
    ("post", "/housing-proposals/{proposal_id}/show"),
    ("post", "/housing-proposals/{proposal_id}/accept"),
    ("post", "/evacuations/{evacuation_id}/depart"),
    ("post", "/evacuations/{evacuation_id}/arrive"),
    ("post", "/evacuations/{evacuation_id}/cancel"),
]
PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{V1}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    """(method, path under /api/v1, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path.removeprefix(V1), operation


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target: dict = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _parameters(document: dict, operation: dict) -> dict[tuple[str, str], dict]:
    resolved = (_resolve(document, p) for p in operation.get("parameters", []))
    return {(p["in"], p["name"]): p for p in resolved}


def _views(app) -> dict[tuple[str, str], tuple[str, str]]:
    """(method, path under /api/v1) -> (endpoint, METHOD) of every API route."""
    views = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(f"{V1}/") or rule.rule.endswith("openapi.json"):
            continue
        path = RULE_VARIABLE.sub(r"{\1}", rule.rule).removeprefix(V1)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            views[(method.lower(), path)] = (rule.endpoint, method)
    return views


def _is_idempotent(app, endpoint: str, method: str) -> bool:
    view = app.view_functions[endpoint]
    return bool(getattr(getattr(view.view_class, method.lower()), "_idempotent", False))


# --- the document as a whole -------------------------------------------------------------


def test_the_served_document_is_valid_openapi_3(document):
    validate(document)
    text = json.dumps(document)
    assert '"formData"' not in text  # a Swagger 2 location: one upload body instead
    assert "PaginationMetadata" not in text  # offset pages: our lists are cursor pages


def test_operation_ids_are_the_pinned_ones_and_unique(document):
    found = {(method, path): op.get("operationId") for method, path, op in _operations(document)}
    assert found == OPERATION_IDS
    assert len(set(found.values())) == len(found)


def test_every_api_route_is_in_the_document(app, document):
    documented = {(method, path) for method, path, _ in _operations(document)}
    assert set(_views(app)) == documented


# --- per operation -----------------------------------------------------------------------


def test_every_operation_has_a_summary_and_the_roles_the_app_enforces(app, document):
    views = _views(app)
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("summary", "").strip(), where
        policy = access_policy(app, *views[(method, path)])
        assert policy is not None, where
        if policy == PUBLIC:
            assert operation["x-roles"] == [], where
            assert operation["security"] == [], where
            assert "Public: no token needed." in operation["description"], where
            assert not {"401", "403"} & set(operation["responses"]) or path == "/auth/tokens"
        else:
            assert operation["x-roles"] == [role for role in ROLES if role in policy], where
            assert "security" not in operation, where  # the document's bearerAuth
            names = ", ".join(ROLE_NAMES[role] for role in operation["x-roles"])
            assert f"Roles: {names}." in operation["description"], where
            assert {"401", "403"} <= set(operation["responses"]), where


def test_problem_answers_are_documented_with_the_problem_schema(document):
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert ("404" in responses) == ("{" in path), where
        assert "default" in responses, where
        if operation.get("security") != []:  # resolving the token reads the database
            assert "503" in responses, where
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), where
        for code, response in responses.items():
            if code == "default" or code[0] in "45":
                content = _resolve(document, response)["content"]
                assert list(content) == [PROBLEM], (where, code)
                schema = content[PROBLEM]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (where, code)
            if code in ("429", "503"):
                assert "Retry-After" in _resolve(document, response)["headers"], (where, code)
            if code == "401":
                headers = _resolve(document, response)["headers"]
                assert "WWW-Authenticate" in headers, where
    problem = document["components"]["schemas"]["Problem"]["properties"]
    reason = _resolve(document, problem["reasons"]["items"])
    assert {"code", "message", "person_id"} <= set(reason["properties"])


def test_the_answers_no_operation_lists_are_named_in_the_default(document):
    default = document["components"]["responses"]["DEFAULT_ERROR"]
    for code in ("concurrent_change", "stale_version", "internal_error"):
        assert f"`{code}`" in default["description"], code
    assert "Retry-After" in default["headers"]


def test_preconditions_are_documented_where_if_match_is_taken(document):
    """412 wherever If-Match is taken, with the current ETag; 428 where it is required."""
    taken = 0
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        if_match = _parameters(document, operation).get(("header", "If-Match"))
        responses = operation["responses"]
        assert ("412" in responses) == (if_match is not None), where
        assert ("428" in responses) == bool(if_match and if_match["required"]), where
        if if_match is None:
            continue
        taken += 1
        failed = _resolve(document, responses["412"])
        assert "`stale_version`" in failed["description"], where
        assert _resolve(document, failed["headers"]["ETag"])["schema"] == {"type": "string"}
        if "428" in responses:
            assert "`if_match_required`" in _resolve(document, responses["428"])["description"]
    assert taken >= 6
    status = _parameters(
        document, document["paths"][f"{V1}/households/{{household_id}}/status"]["post"]
    )
    assert status[("header", "If-Match")]["required"] is False


def test_every_role_has_a_plain_name_for_the_document():
    assert set(ROLE_NAMES) == set(ROLES)


def test_rule_refusals_say_when_they_answer_and_that_they_list_reasons(document):
    operations = {(method, path): op for method, path, op in _operations(document)}
    for key, status in REFUSALS_WITH_REASONS.items():
        response = _resolve(document, operations[key]["responses"][status])
        assert "`reasons`" in response["description"], key
    login = operations[("post", "/auth/tokens")]["responses"]
    assert {"401", "429", "503"} <= set(login)
    photo = operations[("post", "/housing-offers/{offer_id}/photos")]["responses"]
    assert "image_too_large" in _resolve(document, photo["413"])["description"]
    assert "unsupported_image" in _resolve(document, photo["415"])["description"]


def test_headers_are_documented_where_they_apply(app, document):
    views = _views(app)
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        parameters = _parameters(document, operation)
        assert ("header", "X-Request-ID") in parameters, where
        idempotent = _is_idempotent(app, *views[(method, path)])
        assert (("header", "Idempotency-Key") in parameters) == idempotent, where
        if method == "post" and "201" in operation["responses"] and path != "/auth/tokens":
            assert idempotent, f"{where} creates: it must take an Idempotency-Key"
        for code, response in operation["responses"].items():
            headers = _resolve(document, response).get("headers", {})
            assert "X-Request-ID" in headers, (where, code)
            if code == "201":
                assert "Location" in headers, where
            if idempotent and code.startswith("2"):
                assert "Idempotent-Replayed" in headers, (where, code)


def test_list_operations_document_cursor_and_limit(document):
    for method, path, operation in _operations(document):
        ok = operation["responses"].get("200")
        schema = _resolve(document, ok or {}).get("content", {}).get("application/json", {})
        page = schema.get("schema", {}).get("$ref", "")
        if not page.endswith("Page"):
            continue
        parameters = _parameters(document, operation)
        for name in ("limit", "cursor"):
            assert parameters[("query", name)].get("description"), (method, path, name)
        properties = _resolve(document, {"$ref": page})["properties"]
        assert properties["next_cursor"].get("description"), page


def test_no_request_body_is_required_without_fields(document):
    operations = {(method, path): op for method, path, op in _operations(document)}
    for key, operation in operations.items():
        body = operation.get("requestBody")
        if not body:
            continue
        for media in body["content"].values():
            schema = _resolve(document, media["schema"])
            if not schema.get("properties"):
                assert body.get("required") is False, key
    for key in BODILESS_ACTIONS:
        assert operations[key]["requestBody"]["required"] is False, key


# --- what the document promises is what the API does -------------------------------------


def test_an_action_takes_no_body_or_an_empty_one_and_refuses_unknown_fields(
    as_coordinator, make_evacuation, team
):
    first, second, third = (make_evacuation(team) for _ in range(3))
    url = f"{V1}/evacuations/{{}}/cancel"
    assert as_coordinator.post(url.format(first.id)).status_code == 200
    assert as_coordinator.post(url.format(second.id), json={}).status_code == 200
    refused = as_coordinator.post(url.format(third.id), json={"reason": "weather"})
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    assert "reason" in refused.get_json()["errors"]


def test_an_upload_is_one_multipart_body_that_refuses_unknown_fields(as_coordinator, make_offer):
    offer = make_offer(title="Flat by the river")
    response = as_coordinator.post(
        f"{V1}/housing-offers/{offer.id}/photos",
        data={"file": (io.BytesIO(png_bytes()), "room.png"), "caption": "Room", "gps": "1,2"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["gps"]


def test_the_documented_headers_are_sent(client, as_admin):
    login = client.post(
        f"{V1}/auth/tokens",
        json={"username": as_admin.user.username, "password": "nope"},
        headers={"X-Request-ID": "tablet-7:retry.2"},
    )
    assert login.headers["X-Request-ID"] == "tablet-7:retry.2"
    headers = {"Idempotency-Key": "team-river-1"}
    first = as_admin.post(f"{V1}/teams", json={"name": "River crossing"}, headers=headers)
    again = as_admin.post(f"{V1}/teams", json={"name": "River crossing"}, headers=headers)
    assert first.status_code == again.status_code == 201, first.get_json()
    assert first.headers["Location"] == again.headers["Location"] == f"{V1}/teams"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", again.headers["X-Request-ID"])
