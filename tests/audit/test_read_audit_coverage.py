"""Every look at personal data is on the record.

The walk calls every GET route of ``app.url_map``, as each role the route lets in, over a
case seeded with distinctive fictional values. Each route is classified: PERSONAL (its
answer shows a household's or a person's record) or NOT_PERSONAL, so a new GET route fails
until someone decides. For every seeded value an answer contains, a ``read`` event carrying
that request's X-Request-ID must name the record holding the value (by ``entity_id``: the
filter an administrator uses for "who looked at this child"); a few routes show people by id
only and must name them too (ALSO_SEEN). A NOT_PERSONAL answer must contain no seeded value.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.access import PUBLIC, access_policy
from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER
from app.extensions import db
from tests.case_data import api_as, build_case, makers_of_their_own
from tests.conftest import png_bytes

#: A value only the seeded case holds -> the records (keys of ``world``) that hold it.
SEEDS: dict[str, tuple[str, ...]] = {
    "Zqlocality": ("household",),
    "Zq Dovzhenko district": ("household",),
    "Zq 7 Quillfeather Lane": ("household",),
    "+380 99 765 4321": ("household",),
    "Zq household notes: the cellar floods": ("household",),
    "Oksana Zqvitka": ("mother",),
    "Zq insulin twice a day": ("mother",),
    "Marta Zqvitka": ("child",),
    "Taras Zqexternal": ("outside_link",),
    "taras.zq@example.org": ("outside_link",),
    "Zq visit notes: the roof leaks": ("household",),
    "Zq stance: afraid of the checkpoint": ("mother",),
    "Zq Witness Halyna": ("consent",),
    "Zq consent notes: signed at the kitchen table": ("consent",),
    "Zq Provider Ivanenko": ("offer",),
    "zq.provider@example.org": ("offer",),
    "Zq 12 Park Street": ("offer",),
    "Zq proposal notes: near the school": ("household",),
    "Zq meeting point: the old mill": ("evacuation",),
    "Zq route: along the river": ("evacuation",),
}

#: Routes whose answer shows a household's or a person's record (or what is about them).
PERSONAL = {
    "/api/v1/households",
    "/api/v1/households/<uuid:household_id>",
    "/api/v1/households/<uuid:household_id>/members",
    "/api/v1/persons/<uuid:person_id>",
    "/api/v1/persons/<uuid:person_id>/guardians",
    "/api/v1/guardianships/<uuid:guardianship_id>",
    "/api/v1/households/<uuid:household_id>/visits",
    "/api/v1/households/<uuid:household_id>/timeline",
    "/api/v1/consents",
    "/api/v1/consents/<uuid:consent_id>",
    "/api/v1/persons/<uuid:person_id>/eligibility",
    "/api/v1/housing-offers",
    "/api/v1/housing-offers/<uuid:offer_id>",
    "/api/v1/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>",
    "/api/v1/households/<uuid:household_id>/housing-matches",
    "/api/v1/households/<uuid:household_id>/housing-proposals",
    "/api/v1/evacuations",
    "/api/v1/evacuations/<uuid:evacuation_id>",
}

#: Routes that show no household's or person's data, and why.
NOT_PERSONAL = {
    "/healthz": "a health probe",
    "/readyz": "a readiness probe",
    "/api/v1/openapi.json": "the API's description",
    "/api/docs": "the API's documentation page",
    "/api/docs/<asset>": "the documentation page's scripts and styles",
    "/api/v1/version": "the API's version and build",
    # staff accounts: the service's own users, managed by administrators; every change to
    # them is audited as a write, and they hold no one's case
    "/api/v1/me": "the caller's own account",
    "/api/v1/teams": "team names and areas",
    "/api/v1/users": "staff accounts (administrators)",
    "/api/v1/users/<uuid:user_id>": "a staff account (administrators)",
    "/api/v1/reports/summary": "counts only",
    "/api/v1/audit-events": "ids, actions and field names; case values are withheld",
    "/api/v1/audit-events/verify": "the chain check",
}

#: Records a route shows by id or by its nature, with no seeded text to find.
ALSO_SEEN: dict[str, tuple[str, ...]] = {
    "/api/v1/households/<uuid:household_id>/members": ("mother", "child"),
    "/api/v1/persons/<uuid:person_id>/guardians": (
        "child",
        "mother",
        "mother_link",
        "outside_link",
    ),
    "/api/v1/guardianships/<uuid:guardianship_id>": ("outside_link", "child"),
    "/api/v1/households/<uuid:household_id>/visits": ("household", "mother"),
    "/api/v1/households/<uuid:household_id>/timeline": ("household", "child", "mother"),
    "/api/v1/consents": ("consent", "child", "mother", "mother_link"),
    "/api/v1/consents/<uuid:consent_id>": ("consent", "child", "mother", "mother_link"),
    "/api/v1/persons/<uuid:person_id>/eligibility": ("child",),
    "/api/v1/housing-offers/<uuid:offer_id>/photos/<uuid:photo_id>": ("photo",),
    "/api/v1/households/<uuid:household_id>/housing-matches": ("household", "offer"),
    "/api/v1/households/<uuid:household_id>/housing-proposals": ("household",),
    "/api/v1/evacuations": ("evacuation", "mother"),
    "/api/v1/evacuations/<uuid:evacuation_id>": ("evacuation", "mother"),
}

#: Query strings to try besides the bare route.
QUERIES: dict[str, tuple[str, ...]] = {
    "/api/v1/households": ("", "?q=zqvitka", "?q=ZQLOC"),
    "/api/v1/consents": ("", "?review_status=pending_review"),
    "/api/v1/audit-events": ("?limit=200",),
}

#: Which world record fills each URL parameter.
PARAMETERS = {
    "household_id": "household",
    "person_id": "child",
    "guardianship_id": "outside_link",
    "consent_id": "consent",
    "offer_id": "offer",
    "photo_id": "photo",
    "evacuation_id": "evacuation",
    "user_id": "field_worker_user",
}

_request_ids = itertools.count(1)


@pytest.fixture
def household(make_household, team):
    return make_household(team=team)


def _get_routes(app) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "GET" in rule.methods),
        key=lambda rule: rule.rule,
    )


def test_every_get_route_is_classified(app):
    routes = {rule.rule for rule in _get_routes(app)}
    unclassified = sorted(routes - PERSONAL - NOT_PERSONAL.keys())
    stale = sorted((PERSONAL | NOT_PERSONAL.keys()) - routes)
    assert not unclassified, f"GET routes neither PERSONAL nor NOT_PERSONAL: {unclassified}"
    assert not stale, f"classified routes that no longer exist: {stale}"
    assert not PERSONAL & NOT_PERSONAL.keys()
    assert ALSO_SEEN.keys() <= PERSONAL


@pytest.fixture(scope="module")
def world(app, shared_transaction):
    """One case with every kind of personal value, reachable by every GET route: made once
    for the module (each test's writes are rolled back)."""
    makers, coordinator, team = makers_of_their_own(app)
    field_worker, admin = makers.user(FIELD_WORKER, team), makers.user(ADMIN)
    case = build_case(
        makers,
        team,
        recorder=field_worker,
        household={
            "locality": "Zqlocality",
            "district": "Zq Dovzhenko district",
            "address_description": "Zq 7 Quillfeather Lane",
            "contact_phone": "+380 99 765 4321",
            "notes": "Zq household notes: the cellar floods",
        },
        mother={
            "age": 34,
            "full_name": "Oksana Zqvitka",
            "medical_notes": "Zq insulin twice a day",
        },
        child={"age": 6, "full_name": "Marta Zqvitka"},
        grant={
            "evidence": "witnessed_verbal",
            "witness_name": "Zq Witness Halyna",
            "notes": "Zq consent notes: signed at the kitchen table",
        },
        offer={
            "capacity": 4,
            "address": "Zq 12 Park Street",
            "provider_name": "Zq Provider Ivanenko",
            "provider_contact": "zq.provider@example.org",
        },
        proposal_notes="Zq proposal notes: near the school",
        evacuation={
            "meeting_point": "Zq meeting point: the old mill",
            "route_notes": "Zq route: along the river",
        },
    )
    household, mother, child = case.household, case.mother, case.child
    outside_link = makers.guardian(
        child,
        None,
        "father",
        external_name="Taras Zqexternal",
        external_contact="taras.zq@example.org",
    )
    mother_consent = makers.consent(field_worker, mother, "self", "granted")
    offer, photo, evacuation = case.offer, case.photo, case.evacuation
    visit = api_as(app, field_worker).post(
        f"/api/v1/households/{household.id}/visits",
        json={
            "visited_at": "2026-11-20T10:00:00+00:00",
            "outcome": "talked",
            "notes": "Zq visit notes: the roof leaks",
            "stances": [
                {
                    "person_id": str(mother.id),
                    "stance": "wants_to_stay",
                    "note": "Zq stance: afraid of the checkpoint",
                }
            ],
        },
    )
    assert visit.status_code == 201, visit.get_json()
    joined = api_as(app, coordinator).post(
        f"/api/v1/evacuations/{evacuation.id}/members", json={"person_id": str(mother.id)}
    )
    assert joined.status_code == 201, joined.get_json()
    ids = {
        "household": household.id,
        "mother": mother.id,
        "child": child.id,
        "mother_link": case.guardianship.id,
        "outside_link": outside_link.id,
        "consent": case.grant.id,
        "mother_consent": mother_consent.id,
        "offer": offer.id,
        "photo": photo.id,
        "evacuation": evacuation.id,
        "field_worker_user": field_worker.id,
    }
    users = {FIELD_WORKER: field_worker, COORDINATOR: coordinator, ADMIN: admin}
    return {key: str(value) for key, value in ids.items()}, users


def _reads(app, request_id: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.entity_type, AuditEvent.entity_id).where(
                AuditEvent.request_id == request_id, AuditEvent.action == "read"
            )
        ).all()
    return [tuple(row) for row in rows]


def _callers(app, rule, users, login, anonymous):
    policy = access_policy(app, rule.endpoint, "GET")
    if policy is None or policy == PUBLIC:
        return [("anyone", anonymous)]
    return [(role, login(users[role])) for role in sorted(policy)]


def test_every_answer_with_personal_data_names_its_records(app, world, login, anonymous):
    ids, users = world
    names = {value: key for key, value in ids.items()}
    checked = 0
    for rule in _get_routes(app):
        url = rule.rule
        for parameter, key in PARAMETERS.items():
            url = url.replace(f"<uuid:{parameter}>", ids[key])
        url = url.replace("<asset>", "init.js")  # the docs page's own script
        assert "<" not in url, f"no world record for a parameter of {rule.rule}"
        for role, caller in _callers(app, rule, users, login, anonymous):
            for query in QUERIES.get(rule.rule, ("",)):
                request_id = f"readaudit-{next(_request_ids)}"
                response = caller.get(url + query, headers={"X-Request-ID": request_id})
                where = f"GET {url}{query} as {role}"
                assert response.status_code == 200, (where, response.get_data(as_text=True))
                text = response.get_data().decode("utf-8", "replace")
                shown = [value for value in SEEDS if value in text]
                reads = _reads(app, request_id)
                if rule.rule in NOT_PERSONAL:
                    assert not shown, f"{where} is NOT_PERSONAL but shows {shown}"
                    continue
                expected = {key for value in shown for key in SEEDS[value]}
                expected |= set(ALSO_SEEN.get(rule.rule, ()))
                assert expected, f"{where}: the world shows nothing personal here; seed it"
                named = {entity_id for _, entity_id in reads}
                missing = sorted(key for key in expected if ids[key] not in named)
                assert not missing, f"{where} shows {missing} without a read event naming them"
                # one event per record seen, none for a record it does not know
                assert len(reads) == len(set(reads)), (where, reads)
                assert all(entity_id in names for _, entity_id in reads), (where, reads)
                checked += 1
    assert checked >= len(PERSONAL)


def test_a_search_by_name_records_the_households_and_the_people_it_matched(
    app, as_field_worker, make_household, make_person, team
):
    """The searcher learns that someone called X lives at address Y: the household and
    the people whose names matched count as looked at, not their housemates."""
    found = make_household(team=team)
    named = make_person(found, full_name="Bohdana Zqsearch")
    make_person(found, full_name="Her Housemate")
    make_person(make_household(team=team), full_name="Someone Else")
    response = as_field_worker.get(
        "/api/v1/households?q=zqsearch", headers={"X-Request-ID": "search-zq-1"}
    )
    assert [h["id"] for h in response.get_json()["items"]] == [str(found.id)]
    assert sorted(_reads(app, "search-zq-1")) == [
        ("households", str(found.id)),
        ("persons", str(named.id)),
    ]
    # found by its locality, not by a name: nobody's name was shown
    response = as_field_worker.get(
        f"/api/v1/households?q={found.locality}", headers={"X-Request-ID": "search-zq-2"}
    )
    assert str(found.id) in [h["id"] for h in response.get_json()["items"]]
    assert {entity_type for entity_type, _ in _reads(app, "search-zq-2")} == {"households"}


def test_only_the_page_shown_counts_as_seen(app, as_field_worker, household, make_person):
    first = make_person(household, age=40)
    second = make_person(household, age=12)
    url = f"/api/v1/households/{household.id}/members?limit=1"
    page = as_field_worker.get(url, headers={"X-Request-ID": "page-zq-1"}).get_json()
    assert [p["id"] for p in page["items"]] == [str(first.id)]
    assert _reads(app, "page-zq-1") == [("persons", str(first.id))]
    as_field_worker.get(
        f"{url}&cursor={page['next_cursor']}", headers={"X-Request-ID": "page-zq-2"}
    )
    assert _reads(app, "page-zq-2") == [("persons", str(second.id))]


def test_a_refused_look_records_no_read(app, as_other_field_worker, household):
    response = as_other_field_worker.get(
        f"/api/v1/households/{household.id}", headers={"X-Request-ID": "refused-zq-1"}
    )
    assert response.status_code == 404
    assert _reads(app, "refused-zq-1") == []


def test_who_looked_at_this_child_is_one_filter(
    app, as_admin, login, field_worker, coordinator, household, make_person, make_guardian
):
    child = make_person(household, age=5, full_name="Ivanka Zqchild")
    make_guardian(child, make_person(household, age=31), "mother")
    as_worker = login(field_worker)
    assert as_worker.get(f"/api/v1/households/{household.id}/members").status_code == 200
    assert as_worker.get(f"/api/v1/persons/{child.id}/guardians").status_code == 200
    assert login(coordinator).get(f"/api/v1/persons/{child.id}").status_code == 200

    page = as_admin.get(
        "/api/v1/audit-events", query_string={"entity_id": str(child.id), "action": "read"}
    ).get_json()
    looks = [(e["actor_id"], e["entity_type"], e["details"].get("via")) for e in page["items"]]
    assert looks == [
        (str(coordinator.id), "persons", "person"),
        (str(field_worker.id), "persons", "guardians"),
        (str(field_worker.id), "persons", "members"),
        # the coordinator who recorded her and linked her mother saw her in those answers
        (str(coordinator.id), "persons", "add_guardian"),
        (str(coordinator.id), "persons", "add_member"),
    ]
    assert all(e["request_id"] for e in page["items"][:3])


def test_reads_through_the_services_are_recorded(app, field_worker, household, make_person):
    """The services own the audit of a look: a CLI or another caller records it too, and a
    look that is rolled back leaves nothing."""
    from app.households import persons
    from app.households import service as households

    person = make_person(household, age=50)
    with app.app_context():
        mark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))
        actor = db.session.get(type(field_worker), field_worker.id)
        persons.read_person(actor, person.id)
        db.session.rollback()
        households.read_household(actor, household.id)
        persons.read_person(actor, person.id)
        persons.read_person(actor, person.id)  # twice in one transaction: named once
        db.session.commit()
        recorded = db.session.execute(
            sa.select(AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.actor_id)
            .where(AuditEvent.id > mark, AuditEvent.action == "read")
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(row) for row in recorded] == [
        ("households", str(household.id), field_worker.id),
        ("persons", str(person.id), field_worker.id),
    ]


def test_a_photo_answer_is_binary_and_recorded(app, as_field_worker, make_offer, make_photo):
    offer = make_offer()
    photo = make_photo(offer, png_bytes())
    response = as_field_worker.get(
        f"/api/v1/housing-offers/{offer.id}/photos/{photo.id}",
        headers={"X-Request-ID": "photo-zq-1"},
    )
    assert response.mimetype == "image/png"
    assert _reads(app, "photo-zq-1") == [("housing_photos", str(photo.id))]


def test_recording_a_page_of_reads_costs_the_same_for_1_and_50(
    app, as_field_worker, household, make_person, count_queries
):
    """One INSERT for all the events of a request, however many records the page shows."""
    mother = make_person(household, age=40)
    url = f"/api/v1/households/{household.id}/visits"

    def log_visit(day: int) -> None:
        response = as_field_worker.post(
            url,
            json={
                "visited_at": f"2026-10-{day:02d}T10:00:00+00:00",
                "outcome": "talked",
                "stances": [{"person_id": str(mother.id), "stance": "undecided"}],
            },
        )
        assert response.status_code == 201

    def statements(expected: int) -> tuple[int, int]:
        as_field_worker.get(url)
        with count_queries() as counter:
            response = as_field_worker.get(url, headers={"X-Request-ID": f"count-{expected}"})
        assert len(response.get_json()["items"]) == expected
        inserts = [s for s in counter.statements if "INSERT INTO audit_events" in s]
        return counter.count, len(inserts)

    log_visit(1)
    one = statements(1)
    for day in range(2, 31):
        log_visit(day)
    for person in [make_person(household, age=20 + i) for i in range(20)]:
        as_field_worker.post(
            url,
            json={
                "visited_at": "2026-09-01T10:00:00+00:00",
                "outcome": "talked",
                "stances": [{"person_id": str(person.id), "stance": "wants_to_leave"}],
            },
        )
    fifty = statements(50)
    assert one == fifty
    assert one[1] == 1
    assert len(_reads(app, "count-50")) == 1 + 21  # the household and each person named
