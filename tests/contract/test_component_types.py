"""The document's components type what crosses the wire, so generated clients are honest.

A request body is a component of its own, without the fields the server sets (and sending
one is 422, naming it); an answer lists as required every property it always carries; a
nullable nested object is the object or null, never any object; an enum is one generated
class, shared by requests and answers where the values are the same; a request's enum
leaves out the values the server always refuses. How: app/openapi_schemas.py. The answers'
side is also checked against real answers, by schemathesis (tests/test_schemathesis.py) and
by the generated client, whose models refuse an answer without a required key
(test_generated_client.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.households.lifecycle import TRANSITIONS
from app.households.models import HOUSEHOLD_STATUSES, PERSON_STATUSES

V1 = "/api/v1"
SCHEMAS = "#/components/schemas/"
#: Properties an answer leaves out when it has nothing to say; every other one is required.
MAY_BE_ABSENT = {"Problem": {"detail", "errors", "reasons"}, "Reason": {"person_id"}}
#: What a nullable nested object's other branch admits: null only.
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


@pytest.fixture
def document(client) -> dict:
    response = client.get(f"{V1}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _refs(node: object) -> Iterator[str]:
    """The names of the components a part of the document refers to, at any depth."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(document: dict, roots: set[str]) -> set[str]:
    """Schema components reachable from ``roots`` (components of any kind)."""
    components = document["components"]
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for kind in ("schemas", "responses"):
            if name in components.get(kind, {}):
                todo.extend(_refs(components[kind][name]))
    return seen & set(components["schemas"])


def _objects(document: dict, names: set[str]) -> set[str]:
    """The object components among ``names`` (not the enums that both sides share)."""
    schemas = document["components"]["schemas"]
    return {name for name in names if schemas[name].get("type") == "object"}


def _sides(document: dict) -> tuple[set[str], set[str]]:
    """(request components, answer components), object components only."""
    bodies: set[str] = set()
    answers: set[str] = set()
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                bodies.update(_refs(operation.get("requestBody", {})))
                answers.update(_refs(operation.get("responses", {})))
    return (
        _objects(document, _reachable(document, bodies)),
        _objects(document, _reachable(document, answers)),
    )


def _properties(document: dict) -> Iterator[tuple[str, str, dict]]:
    for name, schema in document["components"]["schemas"].items():
        for prop_name, prop in schema.get("properties", {}).items():
            yield name, prop_name, prop


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- requests and answers ----------------------------------------------------------------


def test_request_bodies_and_answers_are_components_apart(document):
    requests, answers = _sides(document)
    assert requests and answers
    assert requests & answers == set()


def test_no_request_component_offers_a_field_the_server_sets(document):
    schemas = document["components"]["schemas"]
    requests, _ = _sides(document)
    offered = [
        f"{name}.{prop_name}"
        for name in sorted(requests)
        for prop_name, prop in schemas[name].get("properties", {}).items()
        if prop.get("readOnly")
    ]
    assert offered == []


def test_answers_require_every_property_they_always_carry(document):
    schemas = document["components"]["schemas"]
    _, answers = _sides(document)
    assert {"Household", "Person", "Photo", "Problem", "Consent"} <= answers
    for name in sorted(answers):
        properties = set(schemas[name].get("properties", {}))
        required = set(schemas[name].get("required", []))
        assert required <= properties, name
        assert properties - required == MAY_BE_ABSENT.get(name, set()), name
        if "id" in properties:
            assert "id" in required, name


def test_answers_may_gain_fields_and_requests_refuse_unknown_ones(document, as_field_worker):
    """A minor release may add answer fields (app/api.py API_VERSION): an answer component
    must not say ``additionalProperties: false``; a request one does, and means it."""
    schemas = document["components"]["schemas"]
    requests, answers = _sides(document)
    assert [name for name in sorted(answers) if "additionalProperties" in schemas[name]] == []
    assert [name for name in sorted(requests) if "additionalProperties" not in schemas[name]] == []
    assert all(schemas[name]["additionalProperties"] is False for name in requests)
    refused = as_field_worker.post(f"{V1}/households", json={"locality": "A", "colour": "red"})
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["colour"]


def test_the_server_set_fields_a_request_leaves_out_are_refused_by_name(
    as_field_worker, document, make_household, team
):
    schemas = document["components"]["schemas"]
    answer, request = schemas["Household"]["properties"], schemas["HouseholdInput"]["properties"]
    server_set = set(answer) - set(request)
    assert {"ref", "status", "member_count", "version"} <= server_set
    created = as_field_worker.post(
        f"{V1}/households", json={"locality": "Riverside", **dict.fromkeys(server_set)}
    )
    assert created.status_code == 422, created.get_json()
    assert set(created.get_json()["errors"]) == server_set
    household = make_household(team=team)
    changed = as_field_worker.patch(
        f"{V1}/households/{household.id}", json={"ref": "K7M-3QX", "version": 9}
    )
    assert changed.status_code == 422, changed.get_json()
    assert set(changed.get_json()["errors"]) == {"ref", "version"}


# --- types a generator makes one thing of ------------------------------------------------


def test_unions_are_an_object_or_null_never_any_object(document):
    for name, prop_name, prop in _properties(document):
        for keyword in ("anyOf", "oneOf"):
            for branch in prop.get(keyword, []):
                assert "$ref" in branch or branch == NULL_ONLY, (name, prop_name, branch)


def test_a_nullable_nested_object_is_typed_as_that_object_or_null(document):
    authority = document["components"]["schemas"]["Consent"]["properties"]["authority"]
    assert authority["anyOf"] == [{"$ref": f"{SCHEMAS}Authority"}, NULL_ONLY]
    request = document["components"]["schemas"]["ConsentInput"]["properties"]["authority"]
    assert request["anyOf"] == [{"$ref": f"{SCHEMAS}AuthorityInput"}, NULL_ONLY]


def test_an_inline_enum_has_a_title_so_a_nullable_one_is_one_class(document):
    untitled = [
        f"{name}.{prop_name}"
        for name, prop_name, prop in _properties(document)
        if "enum" in prop and not prop.get("title")
    ]
    assert untitled == []


def test_requests_and_answers_share_an_enum_where_the_values_are_the_same(document):
    schemas = document["components"]["schemas"]

    def enum_of(component: str, prop_name: str) -> str:
        prop = schemas[component]["properties"][prop_name]
        refs = [ref for ref in _refs(prop) if schemas[ref].get("enum")]
        assert len(refs) == 1, (component, prop_name, prop)
        return refs[0]

    assert enum_of("Consent", "basis") == enum_of("ConsentInput", "basis") == "ConsentBasis"
    assert enum_of("Person", "sex") == enum_of("PersonCreate", "sex") == "PersonSex"
    assert enum_of("Visit", "safety") == enum_of("VisitInput", "safety") == "VisitSafety"
    assert enum_of("Household", "priority") == enum_of("HouseholdUpdate", "priority")
    assert None not in schemas["VisitSafety"]["enum"]  # null is the union's other branch


def test_no_component_has_a_typed_property_named_as_itself(document):
    """A generated model's ``from_dict`` parses each property into a variable of its name,
    then the model into a variable of the model's (snake_case) name: one variable of two
    types when the property is parsed (an enum, an object, a date, a UUID). A plain string
    or number (``Token.token``, ``Revoked.revoked``) stays untyped there, and passes."""
    clashes = []
    for name, schema in document["components"]["schemas"].items():
        prop = schema.get("properties", {}).get(_snake(name))
        if prop is not None and not (set(prop) <= {"type", "description"}):
            clashes.append(f"{name}.{_snake(name)}")
    assert clashes == []


# --- enums offered to clients ------------------------------------------------------------


def _enum(document: dict, prop: dict) -> list:
    for ref in _refs(prop):
        return document["components"]["schemas"][ref]["enum"]
    return [value for value in prop["enum"] if value is not None]


def test_a_request_enum_leaves_out_what_the_server_always_refuses(document):
    schemas = document["components"]["schemas"]
    change = _enum(document, schemas["HouseholdStatusChange"]["properties"]["status"])
    assert set(change) == {target for _, target in TRANSITIONS}  # the moves a client makes
    created = _enum(document, schemas["PersonCreate"]["properties"]["status"])
    assert set(created) == set(PERSON_STATUSES) - {"evacuated"}
    # sent back unchanged for an evacuated person, `evacuated` is taken: still offered
    assert _enum(document, schemas["PersonUpdate"]["properties"]["status"]) == list(PERSON_STATUSES)
    assert _enum(document, schemas["Person"]["properties"]["status"]) == list(PERSON_STATUSES)
    assert _enum(document, schemas["Household"]["properties"]["status"]) == list(HOUSEHOLD_STATUSES)


def _schema_objects(node: object) -> Iterator[dict]:
    """Every object anywhere in the document (schemas among them)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_objects(item)


def test_nullable_always_stands_beside_a_type(document):
    """OpenAPI 3.0.3: ``nullable`` adds null to the ``type`` beside it; alone it means
    nothing, and linters (Redocly's ``nullable-type-sibling``) refuse the document."""
    alone = [
        node for node in _schema_objects(document) if "nullable" in node and "type" not in node
    ]
    assert alone == []


def test_the_document_names_its_server(document):
    assert document["servers"] == [
        {"url": "/", "description": "The server that serves this document"}
    ]
