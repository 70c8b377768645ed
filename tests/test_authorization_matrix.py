"""The authorisation matrix: every route has a policy, and the app enforces it.

``POLICY`` is the reviewed table of who may call what. It is generated against
``app.url_map``: a new route without an entry fails the first test, and the others check
401 without a token, 403 for each role the table leaves out, no 401/403 for the roles it
lets in, and 404 (not 403) for a field worker reaching into another team's case data.
"""

from __future__ import annotations

import uuid

import pytest

from app.auth.access import PUBLIC, access_policy
from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from tests.case_data import build_case, makers_of_their_own, users_of_each_role

ALL = frozenset({FIELD_WORKER, COORDINATOR, ADMIN})
CASE = frozenset({FIELD_WORKER, COORDINATOR})
ADMIN_ONLY = frozenset({ADMIN})
COORDINATOR_ONLY = frozenset({COORDINATOR})
OPEN = "open"  # infrastructure: docs and health probes

POLICY: dict[tuple[str, str], frozenset[str] | str] = {
    ("/healthz", "GET"): OPEN,
    ("/readyz", "GET"): OPEN,
    ("/api/v1/openapi.json", "GET"): OPEN,
    ("/api/docs", "GET"): OPEN,
    ("/api/docs/<asset>", "GET"): OPEN,
    ("/api/v1/version", "GET"): PUBLIC,
    ("/api/v1/auth/tokens", "POST"): PUBLIC,
    ("/api/v1/auth/tokens/current", "DELETE"): ALL,
    ("/api/v1/me", "GET"): ALL,
    ("/api/v1/teams", "GET"): ALL,
    ("/api/v1/teams", "POST"): ADMIN_ONLY,
    ("/api/v1/users", "GET"): ADMIN_ONLY,
    ("/api/v1/users", "POST"): ADMIN_ONLY,
    ("/api/v1/users/<uuid:user_id>", "GET"): ADMIN_ONLY,
    ("/api/v1/users/<uuid:user_id>", "PATCH"): ADMIN_ONLY,
    ("/api/v1/users/<uuid:user_id>/tokens", "DELETE"): ADMIN_ONLY,
    ("/api/v1/households", "GET"): CASE,
    ("/api/v1/households", "POST"): CASE,
    ("/api/v1/households/<uuid:household_id>", "GET"): CASE,
    ("/api/v1/households/<uuid:household_id>", "PATCH"): CASE,
    ("/api/v1/households/<uuid:household_id>/status", "POST"): CASE,
    ("/api/v1/households/<uuid:household_id>/members", "GET"): CASE,
    ("/api/v1/households/<uuid:household_id>/members", "POST"): CASE,
    ("/api/v1/persons/<uuid:person_id>", "GET"): CASE,
    ("/api/v1/persons/<uuid:person_id>", "PATCH"): CASE,
    ("/api/v1/persons/<uuid:person_id>/guardians", "GET"): CASE,
    ("/api/v1/persons/<uuid:person_id>/guardians", "POST"): CASE,
    ("/api/v1/guardianships/<uuid:guardianship_id>", "GET"): CASE,
    ("/api/v1/guardianships/<uuid:guardianship_id>", "PATCH"): CASE,
    ("/api/v1/households/<uuid:household_id>/visits", "GET"): CASE,
    ("/api/v1/households/<uuid:household_id>/visits", "POST"): CASE,
    ("/api/v1/households/<uuid:household_id>/timeline", "GET"): CASE,
    ("/api/v1/consents", "GET"): CASE,
    ("/api/v1/consents", "POST"): CASE,
    ("/api/v1/consents/<uuid:consent_id>", "GET"): CASE,
    ("/api/v1/consents/<uuid:consent_id>/verify", "POST"): COORDINATOR_ONLY,
    ("/api/v1/consents/<uuid:consent_id>/reject", "POST"): COORDINATOR_ONLY,
    ("/api/v1/consents/<uuid:consent_id>/revoke", "POST"): CASE,
    ("/api/v1/persons/<uuid:person_id>/eligibility", "GET"): CASE,
    ("/api/v1/housing-offers", "GET"): CASE,
    ("/api/v1/housing-offers", "POST"): COORDINATOR_ONLY,
    ("/api/v1/housing-offers/<uuid:offer_id>", "GET"): CASE,
    ("/api/v1/housing-offers/<uuid:offer_id>", "PATCH"): COORDINATOR_ONLY,
    ("/api/v1/housing-offers/<uuid:offer_id>/photos", "POST"): COORDINATOR_ONLY,
    ("/api/v1/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>", "GET"): CASE,
    ("/api/v1/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>", "DELETE"): COORDINATOR_ONLY,
    ("/api/v1/households/<uuid:household_id>/housing-matches", "GET"): CASE,
    ("/api/v1/households/<uuid:household_id>/housing-proposals", "GET"): CASE,
    ("/api/v1/households/<uuid:household_id>/housing-proposals", "POST"): CASE,
    ("/api/v1/housing-proposals/<uuid:proposal_id>/show", "POST"): CASE,
    ("/api/v1/housing-proposals/<uuid:proposal_id>/accept", "POST"): CASE,
    ("/api/v1/housing-proposals/<uuid:proposal_id>/decline", "POST"): CASE,
    ("/api/v1/housing-proposals/<uuid:proposal_id>/withdraw", "POST"): CASE,
    ("/api/v1/evacuations", "GET"): CASE,
    ("/api/v1/evacuations", "POST"): COORDINATOR_ONLY,
    ("/api/v1/evacuations/<uuid:evacuation_id>", "GET"): CASE,
    ("/api/v1/evacuations/<uuid:evacuation_id>/members", "POST"): COORDINATOR_ONLY,
    ("/api/v1/evacuations/<uuid:evacuation_id>/members/<uuid:person_id>", "DELETE"): (
        COORDINATOR_ONLY
    ),
    ("/api/v1/evacuations/<uuid:evacuation_id>/depart", "POST"): COORDINATOR_ONLY,
    ("/api/v1/evacuations/<uuid:evacuation_id>/arrive", "POST"): COORDINATOR_ONLY,
    ("/api/v1/evacuations/<uuid:evacuation_id>/cancel", "POST"): COORDINATOR_ONLY,
    ("/api/v1/audit-events", "GET"): ADMIN_ONLY,
    ("/api/v1/audit-events/verify", "GET"): ADMIN_ONLY,
    ("/api/v1/reports/summary", "GET"): COORDINATOR_ONLY,
}

#: A valid body per writing route, so a scope check is reached rather than validation.
BODIES: dict[tuple[str, str], dict] = {
    ("/api/v1/auth/tokens", "POST"): {"username": "nobody", "password": "wrong"},
    ("/api/v1/teams", "POST"): {"name": "Team Matrix"},
    ("/api/v1/users", "POST"): {
        "username": "matrixuser",
        "role": COORDINATOR,
        "password": "matrix-password-long",
    },
    ("/api/v1/households", "POST"): {"locality": "Matrix"},
    ("/api/v1/households/<uuid:household_id>/status", "POST"): {"status": "engaging"},
    ("/api/v1/households/<uuid:household_id>/members", "POST"): {
        "full_name": "Matrix Person",
        "estimated_age": 40,
    },
    ("/api/v1/persons/<uuid:person_id>/guardians", "POST"): {
        "external_name": "Matrix Parent",
        "relationship": "father",
    },
    ("/api/v1/households/<uuid:household_id>/visits", "POST"): {
        "visited_at": "2026-01-05T09:30:00+00:00",
        "outcome": "talked",
    },
    ("/api/v1/consents/<uuid:consent_id>/reject", "POST"): {"note": "The form is unsigned."},
    ("/api/v1/consents/<uuid:consent_id>/revoke", "POST"): {
        "reason": "The mother changed her mind."
    },
    ("/api/v1/housing-offers", "POST"): {
        "title": "Matrix flat",
        "kind": "apartment",
        "locality": "Westbank",
        "capacity": 4,
    },
    ("/api/v1/households/<uuid:household_id>/housing-proposals", "POST"): {"offer_id": None},
    ("/api/v1/housing-proposals/<uuid:proposal_id>/decline", "POST"): {"reason": "Too far."},
    ("/api/v1/evacuations", "POST"): {
        "team_id": None,
        "planned_departure": "2026-12-01T06:00:00+00:00",
        "mode": "on_foot",
        "meeting_point": "The old water tower",
    },
    ("/api/v1/evacuations/<uuid:evacuation_id>/members", "POST"): {"person_id": None},
}


def _routes(app) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _guarded():
    return [key for key, policy in POLICY.items() if policy not in (OPEN, PUBLIC)]


def test_every_route_has_a_policy_entry(app):
    routes = _routes(app)
    missing = sorted(routes - POLICY.keys())
    stale = sorted(POLICY.keys() - routes)
    assert not missing, f"routes without an entry in POLICY: {missing}"
    assert not stale, f"POLICY entries for routes that no longer exist: {stale}"


def test_the_app_declares_what_the_table_says(app):
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            expected = POLICY[(rule.rule, method)]
            if expected == OPEN:
                continue
            assert access_policy(app, rule.endpoint, method) == expected, (rule.rule, method)


@pytest.fixture(scope="module")
def two_cases(app, shared_transaction):
    """Users of each role and a case in each of two teams, with a grant awaiting review:
    made once for the module (each test's writes are rolled back)."""
    make, _, _ = makers_of_their_own(app)
    team, other_team = make.team(), make.team()
    users = users_of_each_role(make, team)
    cases = {}
    for which, owner in (("own", team), ("other", other_team)):
        case = build_case(
            make,
            owner,
            recorder=make.user(FIELD_WORKER, owner),
            mother={"age": 33},
            child={"age": 6},
        )
        cases[which] = {
            "household_id": case.household.id,
            "person_id": case.child.id,
            "guardianship_id": case.guardianship.id,
            "consent_id": case.grant.id,
            "user_id": users[ADMIN].id,
            "offer_id": case.offer.id,
            "photo_id": case.photo.id,
            "proposal_id": case.proposal.id,
            "evacuation_id": case.evacuation.id,
            "team_id": owner.id,
        }
    return users, cases


@pytest.fixture
def world(two_cases, login):
    users, cases = two_cases
    return users, cases, login


def _url(rule: str, ids: dict) -> str:
    url = rule
    for name, value in ids.items():
        url = url.replace(f"<uuid:{name}>", str(value))
    return url


def _call(api, method: str, url: str, body: dict | None, ids: dict | None = None):
    """Send a request; ``None`` values in the body are filled from ``ids``."""
    if body and ids:
        body = {k: str(ids[k]) if v is None else v for k, v in body.items()}
    headers = {"If-Match": "*"} if method == "PATCH" else {}
    if method in ("POST", "PATCH"):
        return getattr(api, method.lower())(url, json=body or {}, headers=headers)
    return getattr(api, method.lower())(url, headers=headers)


@pytest.mark.parametrize(("rule", "method"), _guarded())
def test_no_token_is_401(rule, method, world, anonymous):
    _, cases, _ = world
    response = _call(
        anonymous, method, _url(rule, cases["own"]), BODIES.get((rule, method)), cases["own"]
    )
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("rule", "method"), _guarded())
def test_roles_outside_the_policy_get_403(rule, method, world):
    users, cases, login = world
    for role in sorted(ALL - POLICY[(rule, method)]):
        api = login(users[role])
        response = _call(
            api, method, _url(rule, cases["own"]), BODIES.get((rule, method)), cases["own"]
        )
        assert response.status_code == 403, (role, response.get_json())
        assert response.get_json()["code"] == "role_forbidden"


@pytest.mark.parametrize(("rule", "method"), _guarded())
def test_roles_inside_the_policy_are_let_in(rule, method, world):
    users, cases, login = world
    for role in sorted(POLICY[(rule, method)]):
        api = login(users[role])  # fresh token: some routes revoke tokens
        response = _call(
            api, method, _url(rule, cases["own"]), BODIES.get((rule, method)), cases["own"]
        )
        assert response.status_code not in (401, 403), (role, response.get_json())


#: ids whose objects belong to one team's case (housing offers are shared by all teams)
SCOPED_IDS = (
    "household_id",
    "person_id",
    "guardianship_id",
    "consent_id",
    "proposal_id",
    "evacuation_id",
)
SCOPED = [
    key
    for key in _guarded()
    if POLICY[key] == CASE and any(f"<uuid:{n}>" in key[0] for n in SCOPED_IDS)
]


@pytest.mark.parametrize(("rule", "method"), SCOPED)
def test_another_teams_case_is_404_to_a_field_worker(rule, method, world):
    users, cases, login = world
    api = login(users[FIELD_WORKER])
    response = _call(
        api, method, _url(rule, cases["other"]), BODIES.get((rule, method)), cases["other"]
    )
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["code"] == "not_found"
    coordinator = login(users[COORDINATOR])
    seen = _call(
        coordinator, method, _url(rule, cases["other"]), BODIES.get((rule, method)), cases["other"]
    )
    assert seen.status_code != 404


def test_unknown_ids_are_404_not_500(world):
    users, _, login = world
    api = login(users[COORDINATOR])
    for rule, method in SCOPED:
        ids = {k: uuid.uuid4() for k in (*SCOPED_IDS, "offer_id", "team_id")}
        response = _call(api, method, _url(rule, ids), BODIES.get((rule, method)), ids)
        assert response.status_code == 404, (rule, method)
