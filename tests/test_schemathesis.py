"""Property-based tests over the OpenAPI document, in-process, authenticated as each role.

For every documented operation schemathesis generates requests (valid and invalid) with a
fixed seed and a bounded number of examples; whatever it sends, no answer may be a 5xx and
every answer must match what the document promises (status, media type, body schema).
"""

from __future__ import annotations

from types import SimpleNamespace

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
from tests.case_data import build_case

# commits for real: a generated request that fails on PostgreSQL must not abort the one
# long transaction every later request of the test would run in
pytestmark = [pytest.mark.slow, pytest.mark.commits]

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
def users_by_role(no_login_throttle, makers, team):
    """A user of each role, and some case data for the generated requests to find."""
    field_worker = makers.user(FIELD_WORKER, team)
    case = build_case(
        makers,
        team,
        recorder=field_worker,
        mother={"age": 35, "full_name": "Mira Example"},
        child={"age": 8, "full_name": "Nika Example"},
    )
    makers.consent(field_worker, case.mother, "self", "refused")
    return {
        FIELD_WORKER: field_worker,
        COORDINATOR: makers.user(COORDINATOR),
        ADMIN: makers.user(ADMIN),
    }


#: Only requests to these paths revoke a token or change its user (logging out, revoking a
#: user's tokens, deactivating a user or changing their password).
ACCOUNT_PATHS = ("/auth/tokens", "/users")


@pytest.fixture
def tokens(users_by_role, login):
    """A bearer token for each role, taken again after any request that could have revoked
    one: the generated requests include logging out. (A fresh login before every request
    made most of this test's time.)"""
    held: dict[str, str] = {}

    def of(role: str) -> str:
        if role not in held:
            held[role] = login(users_by_role[role]).token
        return held[role]

    def after(case) -> None:
        if case.method.upper() != "GET" and any(path in case.path for path in ACCOUNT_PATHS):
            held.clear()

    return SimpleNamespace(of=of, after=after)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(case, users_by_role, tokens):
    for role in users_by_role:
        headers = {"Authorization": f"Bearer {tokens.of(role)}", **IDENTITY}
        case.call_and_validate(headers=headers, checks=CHECKS)
        tokens.after(case)
    case.call_and_validate(headers=IDENTITY, checks=CHECKS)
