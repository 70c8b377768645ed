"""The served document tells a client developer what every field means, and its examples work.

Every property of every schema and every query, path and header parameter has a description;
every request-body example validates against its schema in the document and loads through
the marshmallow schema the endpoint uses; and the examples of a visit, a parental consent and
a social-services authorization, sent as they are documented (only the ids replaced by real
ones), are accepted by the API.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from marshmallow import Schema, ValidationError
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

from app.consents.schemas import ConsentSchema
from app.evacuations.schemas import EvacuationSchema
from app.households.schemas import GuardianshipSchema, HouseholdSchema, PersonCreateSchema
from app.housing.schemas import HousingOfferSchema
from app.visits.schemas import VisitSchema

VISITS = "/api/v1/households/{household_id}/visits"
CONSENTS = "/api/v1/consents"
#: The main request bodies, which must carry examples, and the schema each endpoint loads.
EXAMPLE_BODIES: dict[tuple[str, str], type[Schema]] = {
    ("post", VISITS): VisitSchema,
    ("post", CONSENTS): ConsentSchema,
    ("post", "/api/v1/households"): HouseholdSchema,
    ("post", "/api/v1/households/{household_id}/members"): PersonCreateSchema,
    ("post", "/api/v1/persons/{person_id}/guardians"): GuardianshipSchema,
    ("post", "/api/v1/evacuations"): EvacuationSchema,
    ("post", "/api/v1/housing-offers"): HousingOfferSchema,
}
OPERATIONS = ("get", "put", "post", "patch", "delete", "head", "options")
DESCRIBED_LOCATIONS = ("query", "path", "header")


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(document: dict) -> Iterator[tuple[str, str, dict, list]]:
    """(method, path, operation, path-level parameters) for every operation."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in OPERATIONS:
                yield method, path, operation, item.get("parameters", [])


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target: dict = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _json_examples(operation: dict) -> Iterator[tuple[str, dict, dict]]:
    """(name, value, schema) of each JSON request-body example of an operation."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in content:
        yield "example", content["example"], content["schema"]
    for name, example in content.get("examples", {}).items():
        yield name, example["value"], content["schema"]


def _undescribed_properties(schema: dict, where: str) -> Iterator[str]:
    """Every property in a schema (nested ones too) that has no description."""
    for name, prop in schema.get("properties", {}).items():
        if not str(prop.get("description", "")).strip():
            yield f"{where}.{name}"
        yield from _undescribed_properties(prop, f"{where}.{name}")
    for keyword in ("allOf", "anyOf", "oneOf"):
        for index, part in enumerate(schema.get(keyword, [])):
            yield from _undescribed_properties(part, f"{where}.{keyword}[{index}]")
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            yield from _undescribed_properties(schema[keyword], f"{where}.{keyword}")


def _validate_against_document(document: dict, schema: dict, value: dict) -> None:
    """Validate as a request body: readOnly properties may not be sent."""
    root = {**schema, "components": document["components"]}
    OAS30WriteValidator(root, format_checker=oas30_format_checker).validate(value)


# --- descriptions ------------------------------------------------------------------------


def test_every_schema_and_property_is_described(document):
    undescribed = []
    for name, schema in document["components"]["schemas"].items():
        if not str(schema.get("description", "")).strip():
            undescribed.append(name)
        undescribed.extend(_undescribed_properties(schema, name))
    for method, path, operation, _ in _operations(document):
        bodies = [operation.get("requestBody", {})]
        bodies += [_resolve(document, r) for r in operation.get("responses", {}).values()]
        for body in bodies:
            for media_type, content in body.get("content", {}).items():
                where = f"{method.upper()} {path} {media_type}"
                undescribed.extend(_undescribed_properties(content.get("schema", {}), where))
    assert undescribed == []


def test_every_query_path_and_header_parameter_is_described(document):
    undescribed = []
    for method, path, operation, shared in _operations(document):
        for parameter in [*shared, *operation.get("parameters", [])]:
            parameter = _resolve(document, parameter)
            if parameter["in"] not in DESCRIBED_LOCATIONS:
                continue
            if not str(parameter.get("description", "")).strip():
                undescribed.append(f"{method.upper()} {path} {parameter['in']}:{parameter['name']}")
    assert undescribed == []


# --- examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), list(EXAMPLE_BODIES))
def test_main_request_bodies_have_examples_that_load(document, method, path):
    operation = document["paths"][path][method]
    examples = list(_json_examples(operation))
    assert examples, f"{method.upper()} {path} has no example"
    for name, value, schema in examples:
        _validate_against_document(document, schema, value)
        try:
            EXAMPLE_BODIES[(method, path)]().load(copy.deepcopy(value))
        except ValidationError as error:
            pytest.fail(f"{method.upper()} {path} example {name!r}: {error.messages}")


def test_consents_document_a_parental_consent_and_a_social_services_authorization(document):
    examples = {
        name: value for name, value, _ in _json_examples(document["paths"][CONSENTS]["post"])
    }
    assert {value["basis"] for value in examples.values()} >= {"parental", "social_services"}


def test_every_example_in_the_document_is_valid(document):
    """Examples added to any other request body later are held to the same standard."""
    checked = 0
    for _, _, operation, _ in _operations(document):
        for _, value, schema in _json_examples(operation):
            _validate_against_document(document, schema, value)
            checked += 1
    assert checked >= len(EXAMPLE_BODIES)


# --- the documented examples, sent to the API --------------------------------------------


def _example(document: dict, path: str, basis: str | None = None) -> dict:
    """The documented example of POST ``path`` (of that consent basis), as a client copies it."""
    for _, value, _ in _json_examples(document["paths"][path]["post"]):
        if basis is None or value.get("basis") == basis:
            return copy.deepcopy(value)
    raise AssertionError(f"no example for POST {path} {basis or ''}")


def _log_documented_visit(api, document, household, people) -> dict:
    body = _example(document, VISITS)
    assert len(body["stances"]) == len(people)
    for stance, person in zip(body["stances"], people, strict=True):
        stance["person_id"] = str(person.id)
    response = api.post(f"/api/v1/households/{household.id}/visits", json=body)
    assert response.status_code == 201, response.get_json()
    visit = response.get_json()
    for field in ("outcome", "safety", "way_out", "next_visit_on", "notes"):
        assert visit[field] == body[field]
    assert [s["stance"] for s in visit["stances"]] == [s["stance"] for s in body["stances"]]
    return visit


def test_the_documented_visit_is_logged(as_field_worker, document, make_household, make_person):
    household = make_household()
    mother = make_person(household, age=34, full_name="Halyna Example")
    grandfather = make_person(household, age=71, full_name="Petro Example")

    _log_documented_visit(as_field_worker, document, household, [mother, grandfather])


def test_the_documented_parental_consent_is_recorded(
    as_field_worker, document, make_household, make_person, make_guardian
):
    household = make_household()
    mother = make_person(household, age=34, full_name="Halyna Example")
    grandfather = make_person(household, age=71, full_name="Petro Example")
    child = make_person(household, age=7, full_name="Daryna Example")
    link = make_guardian(child, mother, "mother")
    visit = _log_documented_visit(as_field_worker, document, household, [mother, grandfather])
    body = _example(document, CONSENTS, "parental")
    body.update(subject_id=str(child.id), guardianship_id=str(link.id), visit_id=visit["id"])

    response = as_field_worker.post(CONSENTS, json=body)

    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert (record["basis"], record["decision"]) == ("parental", "granted")
    assert record["review_status"] == "pending_review"
    assert record["visit_id"] == visit["id"]


def test_the_documented_social_services_authorization_is_recorded(
    as_coordinator, document, make_household, make_person
):
    household = make_household()
    child = make_person(household, age=9, full_name="Ostap Example")  # no parent on record
    body = _example(document, CONSENTS, "social_services")
    body["subject_id"] = str(child.id)

    response = as_coordinator.post(CONSENTS, json=body)

    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert (record["basis"], record["decision"]) == ("social_services", "granted")
    assert record["authority"] == body["authority"]
    assert record["review_status"] == "pending_review"
