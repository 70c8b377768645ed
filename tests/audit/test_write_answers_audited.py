"""A change's answer is a look too: every write that answers with personal data records it.

An empty PATCH (``{}`` with ``If-Match: *``) changes nothing, so the flush captures no
write, yet it answers with the whole record: without a read event it would be a way to
read any case in scope without a trace. So every POST, PATCH and DELETE route of
``app.url_map`` is classified here: PERSONAL routes (their answer shows a household's or a
person's record, or what is about them) each have a call with a valid body, made over a
fresh copy of the case seeded for the GET walk (``test_read_audit_coverage.world``); every
seeded value the answer contains must be named by a ``read`` event carrying that request's
X-Request-ID, as must the records a route shows by id (ALSO_SEEN) and the record it created.
NOT_PERSONAL routes (staff accounts, sign-in, a 204) are called too: their answer must
contain no seeded value. A new write route fails ``test_every_write_route_is_classified``
until someone decides.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.extensions import db
from app.housing.models import HousingProposal
from tests.audit.test_read_audit_coverage import SEEDS, _reads, world  # noqa: F401
from tests.conftest import PASSWORD, offer_maker, png_bytes

WRITE_METHODS = ("POST", "PATCH", "DELETE")
ANYONE = "anyone"
#: The id a create asks for (client-chosen), or the answer's ``id`` when it cannot choose.
NEW = "new"

#: Values the calls below send, and the record (``world`` key, or NEW) holding them.
SENT: dict[str, str] = {
    "Zqnewtown": NEW,
    "Zq 3 New Household Road": NEW,
    "Zq Newborn Petrenko": NEW,
    "Zq Grandma Outside": NEW,
    "zq.grandma@example.org": NEW,
    "Zq new visit notes: the stairs": "household",
    "Zq new stance: will go with her": "child",
    "Zq New Witness Petro": NEW,
    "Zq new meeting point: the bakery": NEW,
    "Zq 9 New Offer Street": NEW,
    "Zq new caption: the kitchen": NEW,
    "Zq new proposal notes: a garden": "household",
}


@dataclass
class Call:
    role: str
    method: str
    url: str
    json: dict | None = None
    #: another kind of body (multipart form data)
    data: Callable[[], dict] | None = None
    #: the entity type of the record this call creates (named by NEW)
    creates: str | None = None
    #: world records the answer shows by id only, with no seeded text to find
    also_seen: tuple[str, ...] = ()
    #: calls (as coordinator) that bring the case to where this one is valid
    before: list[tuple[str, str, dict]] = field(default_factory=list)


H = "/api/v1/households/{household}"
NEW_ID = "00000000-0000-4000-8000-00000000c0de"


def _form() -> dict:
    return {
        "file": (io.BytesIO(png_bytes()), "kitchen.png"),
        "caption": "Zq new caption: the kitchen",
    }


#: Write routes whose answer shows a household's or a person's record (or what is about
#: them): one valid call each; ``{...}`` in a URL is filled from the world's ids.
PERSONAL: dict[tuple[str, str], Call] = {
    ("POST", "/api/v1/households"): Call(
        FIELD_WORKER,
        "POST",
        "/api/v1/households",
        {
            "id": NEW_ID,
            "locality": "Zqnewtown",
            "address_description": "Zq 3 New Household Road",
        },
        creates="households",
    ),
    ("PATCH", "/api/v1/households/<uuid:household_id>"): Call(FIELD_WORKER, "PATCH", H, {}),
    ("POST", "/api/v1/households/<uuid:household_id>/status"): Call(
        FIELD_WORKER, "POST", H + "/status", {"status": "ready"}
    ),
    ("POST", "/api/v1/households/<uuid:household_id>/members"): Call(
        FIELD_WORKER,
        "POST",
        H + "/members",
        {"id": NEW_ID, "full_name": "Zq Newborn Petrenko", "estimated_age": 1},
        creates="persons",
    ),
    ("PATCH", "/api/v1/persons/<uuid:person_id>"): Call(
        FIELD_WORKER, "PATCH", "/api/v1/persons/{mother}", {}
    ),
    ("POST", "/api/v1/persons/<uuid:person_id>/guardians"): Call(
        FIELD_WORKER,
        "POST",
        "/api/v1/persons/{child}/guardians",
        {
            "id": NEW_ID,
            "relationship": "grandparent",
            "external_name": "Zq Grandma Outside",
            "external_contact": "zq.grandma@example.org",
        },
        creates="guardianships",
        also_seen=("child",),
    ),
    ("PATCH", "/api/v1/guardianships/<uuid:guardianship_id>"): Call(
        FIELD_WORKER,
        "PATCH",
        "/api/v1/guardianships/{outside_link}",
        {},
        also_seen=("outside_link", "child"),
    ),
    ("POST", "/api/v1/households/<uuid:household_id>/visits"): Call(
        FIELD_WORKER,
        "POST",
        H + "/visits",
        {
            "visited_at": "2026-11-21T09:00:00+00:00",
            "outcome": "talked",
            "notes": "Zq new visit notes: the stairs",
            "stances": [
                {
                    "person_id": "{child}",
                    "stance": "wants_to_leave",
                    "note": "Zq new stance: will go with her",
                }
            ],
        },
        also_seen=("household", "child"),
    ),
    ("POST", "/api/v1/consents"): Call(
        FIELD_WORKER,
        "POST",
        "/api/v1/consents",
        {
            "id": NEW_ID,
            "subject_id": "{child}",
            "basis": "parental",
            "decision": "refused",
            "guardianship_id": "{mother_link}",
            "given_at": "2026-11-21T09:30:00+00:00",
            "evidence": "witnessed_verbal",
            "witness_name": "Zq New Witness Petro",
        },
        creates="consent_records",
        # the context names the child and the mother who decided, and her link
        also_seen=("child", "mother", "mother_link"),
    ),
    ("POST", "/api/v1/consents/<uuid:consent_id>/verify"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/consents/{consent}/verify",
        {},
        also_seen=("consent", "child", "mother", "mother_link"),
    ),
    ("POST", "/api/v1/consents/<uuid:consent_id>/reject"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/consents/{consent}/reject",
        {"note": "The form is not hers"},
        also_seen=("consent", "child", "mother", "mother_link"),
    ),
    ("POST", "/api/v1/consents/<uuid:consent_id>/revoke"): Call(
        FIELD_WORKER,
        "POST",
        "/api/v1/consents/{consent}/revoke",
        {"reason": "She changed her mind"},
        also_seen=("consent", "child", "mother", "mother_link"),
    ),
    ("POST", "/api/v1/evacuations"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/evacuations",
        {
            "id": NEW_ID,
            "team_id": "{team}",
            "planned_departure": "2026-12-20T06:00:00+00:00",
            "mode": "vehicle",
            "meeting_point": "Zq new meeting point: the bakery",
        },
        creates="evacuations",
    ),
    ("POST", "/api/v1/evacuations/<uuid:evacuation_id>/members"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/evacuations/{evacuation}/members",
        {"person_id": "{child}", "accompanied_by_person_id": "{mother}"},
        also_seen=("evacuation", "mother", "child"),
        before=[("POST", "/api/v1/consents/{consent}/verify", {})],
    ),
    ("DELETE", "/api/v1/evacuations/<uuid:evacuation_id>/members/<uuid:person_id>"): Call(
        COORDINATOR,
        "DELETE",
        "/api/v1/evacuations/{evacuation}/members/{mother}",
        also_seen=("evacuation",),
    ),
    ("POST", "/api/v1/evacuations/<uuid:evacuation_id>/depart"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/evacuations/{evacuation}/depart",
        {},
        also_seen=("evacuation", "mother"),
    ),
    ("POST", "/api/v1/evacuations/<uuid:evacuation_id>/arrive"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/evacuations/{evacuation}/arrive",
        {},
        also_seen=("evacuation", "mother"),
        before=[("POST", "/api/v1/evacuations/{evacuation}/depart", {})],
    ),
    ("POST", "/api/v1/evacuations/<uuid:evacuation_id>/cancel"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/evacuations/{evacuation}/cancel",
        {},
        also_seen=("evacuation", "mother"),
    ),
    ("POST", "/api/v1/housing-offers"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/housing-offers",
        {
            "id": NEW_ID,
            "title": "Flat near the bakery",
            "kind": "apartment",
            "locality": "Westbank",
            "capacity": 3,
            "address": "Zq 9 New Offer Street",
        },
        creates="housing_offers",
    ),
    ("PATCH", "/api/v1/housing-offers/<uuid:offer_id>"): Call(
        COORDINATOR, "PATCH", "/api/v1/housing-offers/{offer}", {}
    ),
    ("POST", "/api/v1/housing-offers/<uuid:offer_id>/photos"): Call(
        COORDINATOR,
        "POST",
        "/api/v1/housing-offers/{offer}/photos",
        data=_form,
        creates="housing_photos",
    ),
    ("POST", "/api/v1/households/<uuid:household_id>/housing-proposals"): Call(
        FIELD_WORKER,
        "POST",
        H + "/housing-proposals",
        {"offer_id": "{second_offer}", "notes": "Zq new proposal notes: a garden"},
        also_seen=("household",),
    ),
    **{
        ("POST", f"/api/v1/housing-proposals/<uuid:proposal_id>/{step}"): Call(
            FIELD_WORKER,
            "POST",
            f"/api/v1/housing-proposals/{{proposal}}/{step}",
            body,
            also_seen=("household",),
        )
        for step, body in (
            ("show", {}),
            ("accept", {}),
            ("decline", {"reason": "Too far from the school"}),
            ("withdraw", {"reason": "The family found a place"}),
        )
    },
}

#: Write routes whose answer shows no household's or person's data, and why; called too.
NOT_PERSONAL: dict[tuple[str, str], tuple[str, Call]] = {
    ("POST", "/api/v1/auth/tokens"): (
        "a token and the caller's own account",
        Call(
            ANYONE,
            "POST",
            "/api/v1/auth/tokens",
            {"username": "{field_worker_username}", "password": PASSWORD},
        ),
    ),
    ("DELETE", "/api/v1/auth/tokens/current"): (
        "signs out",
        Call(FIELD_WORKER, "DELETE", "/api/v1/auth/tokens/current"),
    ),
    ("POST", "/api/v1/teams"): (
        "a team's name and area",
        Call(ADMIN, "POST", "/api/v1/teams", {"name": "Zq-free team", "area": "North"}),
    ),
    ("POST", "/api/v1/users"): (
        "a staff account",
        Call(
            ADMIN,
            "POST",
            "/api/v1/users",
            {
                "username": "new.worker",
                "full_name": "New Worker",
                "role": FIELD_WORKER,
                "team_id": "{team}",
                "password": "Quiet-orchard-7-lantern-rhubarb",
            },
        ),
    ),
    ("PATCH", "/api/v1/users/<uuid:user_id>"): (
        "a staff account",
        Call(ADMIN, "PATCH", "/api/v1/users/{field_worker_user}", {}),
    ),
    ("DELETE", "/api/v1/users/<uuid:user_id>/tokens"): (
        "a count of revoked tokens",
        Call(ADMIN, "DELETE", "/api/v1/users/{field_worker_user}/tokens"),
    ),
    ("DELETE", "/api/v1/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>"): (
        "204: no body",
        Call(COORDINATOR, "DELETE", "/api/v1/housing-offers/{offer}/photos/{photo}"),
    ),
}


def _write_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in WRITE_METHODS
        if method in rule.methods
    }


def test_every_write_route_is_classified(app):
    routes = _write_routes(app)
    classified = PERSONAL.keys() | NOT_PERSONAL.keys()
    assert not PERSONAL.keys() & NOT_PERSONAL.keys()
    assert not sorted(routes - classified), (
        f"write routes neither PERSONAL nor NOT_PERSONAL: {sorted(routes - classified)}"
    )
    assert not sorted(classified - routes), f"classified, but gone: {sorted(classified - routes)}"


def _fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.fixture(scope="module")
def case(app, world):  # noqa: F811
    """The GET walk's case, plus what the writes need: a second offer to propose, and the
    ids of the proposal and the team. Made once for the module; each test's writes are
    rolled back, so each test sees a fresh copy of it."""
    ids, users = world
    field_worker = users[FIELD_WORKER]
    second = offer_maker(app, users[COORDINATOR])(capacity=5)
    with app.app_context():
        proposal = db.session.scalar(
            sa.select(HousingProposal.id).where(
                HousingProposal.household_id == uuid.UUID(ids["household"])
            )
        )
    ids = {
        **ids,
        "second_offer": str(second.id),
        "proposal": str(proposal),
        "team": str(field_worker.team_id),
        "field_worker_username": field_worker.username,
    }
    return ids, users


def _send(caller, call: Call, ids: dict[str, str], request_id: str):
    headers = {"X-Request-ID": request_id}
    if call.method == "PATCH":
        headers["If-Match"] = "*"  # a no-op change: no write to capture, the answer all the same
    url = _fill(call.url, ids)
    if call.data is not None:
        return caller.post(
            url, data=call.data(), content_type="multipart/form-data", headers=headers
        )
    if call.method == "DELETE":
        return caller.delete(url, headers=headers)
    send = caller.post if call.method == "POST" else caller.patch
    return send(url, json=_fill(call.json, ids), headers=headers)


def _caller(call: Call, users, login, anonymous):
    return anonymous if call.role == ANYONE else login(users[call.role])


@pytest.mark.parametrize("route", sorted(PERSONAL), ids=" ".join)
def test_a_write_answer_names_every_record_it_shows(app, case, login, anonymous, route):
    ids, users = case
    call = PERSONAL[route]
    for method, url, body in call.before:
        assert method == "POST"
        ready = login(users[COORDINATOR]).post(_fill(url, ids), json=body)
        assert ready.status_code < 300, ready.get_json()
    request_id = f"write-{uuid.uuid4()}"
    response = _send(_caller(call, users, login, anonymous), call, ids, request_id)
    where = f"{route[0]} {route[1]}"
    assert response.status_code < 300, (where, response.get_json())

    text = response.get_data().decode("utf-8", "replace")
    new_id = None
    if call.creates:
        new_id = response.get_json()["id"]
        if call.json and "id" in call.json:
            assert new_id == NEW_ID
    known = {**ids, NEW: new_id}
    expected = {key for value, keys in SEEDS.items() if value in text for key in keys}
    expected |= {key for value, key in SENT.items() if value in text}
    expected |= set(call.also_seen)
    if call.creates:
        expected.add(NEW)
    assert expected, f"{where}: the answer shows nothing of the case; seed it"

    reads = _reads(app, request_id)
    named = {entity_id for _, entity_id in reads}
    missing = sorted(key for key in expected if known[key] not in named)
    assert not missing, f"{where} answers with {missing} without a read event naming them"
    assert len(reads) == len(set(reads)), (where, reads)
    assert named <= set(known.values()), (where, reads)
    if call.creates:
        assert (call.creates, new_id) in reads


@pytest.mark.parametrize("route", sorted(NOT_PERSONAL), ids=" ".join)
def test_a_write_answer_without_personal_data_shows_none(app, case, login, anonymous, route):
    ids, users = case
    _why, call = NOT_PERSONAL[route]
    response = _send(_caller(call, users, login, anonymous), call, ids, f"w-{uuid.uuid4()}")
    assert response.status_code < 300, (route, response.get_data(as_text=True))
    text = response.get_data().decode("utf-8", "replace")
    shown = [value for value in (*SEEDS, *SENT) if value in text]
    assert not shown, f"{route} is NOT_PERSONAL but shows {shown}"


def test_a_replayed_answer_records_the_same_look_again(app, case, login):
    """An idempotent retry answers from the stored first answer, without redoing the work:
    it shows the same people again, to the same user, so it records the same look."""
    ids, users = case
    as_coordinator = login(users[COORDINATOR])
    url = f"/api/v1/consents/{ids['consent']}/verify"
    key = {"Idempotency-Key": "verify-zq-1"}
    first = as_coordinator.post(url, json={}, headers={**key, "X-Request-ID": "replay-zq-1"})
    again = as_coordinator.post(url, json={}, headers={**key, "X-Request-ID": "replay-zq-2"})

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    shown = {ids[key] for key in ("consent", "child", "mother", "mother_link")}
    assert {entity_id for _, entity_id in _reads(app, "replay-zq-1")} == shown
    assert sorted(_reads(app, "replay-zq-2")) == sorted(_reads(app, "replay-zq-1"))
    with app.app_context():
        replayed = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.request_id == "replay-zq-2")
        ).all()
    # the replay changed nothing: its only events are the look
    assert {(e.action, e.actor_id, e.details["via"]) for e in replayed} == {
        ("read", users[COORDINATOR].id, "idempotent_replay")
    }
