"""Property-based tests over the OpenAPI document, in-process, authenticated as each role.

For every documented operation schemathesis generates requests (valid and invalid) with a
fixed seed and a bounded number of examples; whatever it sends, no answer may be a 5xx and
every answer must match what the document promises (status, media type, body schema).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.extensions import limiter

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: In-process, schemathesis reads the bytes as they come: it would ask for zstd and not
#: decode it. Compressed answers have tests of their own (tests/test_compression.py).
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def no_login_throttle(app):
    """Generated requests include many failed logins; throttling has tests of its own."""
    limiter.enabled = False
    yield
    limiter.enabled = True


@pytest.fixture
def users_by_role(
    no_login_throttle,
    make_user,
    team,
    make_household,
    make_person,
    make_guardian,
    make_consent,
    make_offer,
    make_photo,
    make_proposal,
    make_evacuation,
):
    """A user of each role, and some case data for the generated requests to find."""
    household = make_household(team=team)
    mother = make_person(household, age=35, full_name="Mira Example")
    child = make_person(household, age=8, full_name="Nika Example")
    link = make_guardian(child, mother, "mother")
    field_worker = make_user(FIELD_WORKER, team)
    make_consent(field_worker, child, "parental", "granted", guardianship=link)
    make_consent(field_worker, mother, "self", "refused")
    offer = make_offer()
    make_photo(offer)
    make_proposal(household, offer)
    make_evacuation(team)
    return {
        FIELD_WORKER: field_worker,
        COORDINATOR: make_user(COORDINATOR),
        ADMIN: make_user(ADMIN),
    }


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case, users_by_role, login):
    for user in users_by_role.values():
        # a fresh token each time: the generated requests include logging out
        headers = {"Authorization": f"Bearer {login(user).token}", **IDENTITY}
        case.call_and_validate(headers=headers, checks=CHECKS)
    case.call_and_validate(headers=IDENTITY, checks=CHECKS)
