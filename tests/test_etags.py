"""ETags follow the representation: 304 on If-None-Match, If-Match against what is shown now.

An ETag is the hash of what an answer shows, so it changes when a household's member count
does, though no column of the household's row changed; a read answered 304 is still a read
(its audit record stays); a PATCH is judged against the representation as it is under the
row's lock.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.models import ADMIN, FIELD_WORKER, User
from app.extensions import db
from app.web.blueprint import Blueprint
from tests.case_data import build_case, makers_of_their_own
from tests.http_helpers import etag_of

HOUSEHOLDS = "/api/v1/households"


def household_url(household) -> str:
    return f"{HOUSEHOLDS}/{household.id}"


def add_member(session, household, **fields):
    fields.setdefault("full_name", "Olena Koval")
    fields.setdefault("estimated_age", 30)
    response = session.post(f"{household_url(household)}/members", json=fields)
    assert response.status_code == 201, response.get_json()
    return response


def reads_of(app, entity_type: str, entity_id, after: int) -> int:
    """How many audit ``read`` events of this record were written after event ``after``."""
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.id > after,
                AuditEvent.action == "read",
                AuditEvent.entity_type == entity_type,
                AuditEvent.entity_id == str(entity_id),
            )
        )


def last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


# --- the ETag follows what the answer shows -----------------------------------------------


def test_a_households_etag_changes_with_its_member_count(as_field_worker, make_household):
    household = make_household()
    url = household_url(household)
    tags = [etag_of(as_field_worker, url)]
    add_member(as_field_worker, household)
    tags.append(etag_of(as_field_worker, url))
    add_member(as_field_worker, household)
    add_member(as_field_worker, household, estimated_age=6)
    after = as_field_worker.get(url)
    tags.append(after.headers["ETag"])

    # the household's own row never changed: its version stays 1, its ETag does not
    assert after.get_json()["version"] == 1
    assert (after.get_json()["member_count"], after.get_json()["child_count"]) == (3, 1)
    assert len(set(tags)) == 3
    assert etag_of(as_field_worker, url) == tags[-1]  # and it is stable while nothing changes


def test_a_logged_visit_changes_the_households_etag(as_field_worker, make_household):
    household = make_household()
    url = household_url(household)
    before = etag_of(as_field_worker, url)
    visited_at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    logged = as_field_worker.post(
        f"{url}/visits", json={"visited_at": visited_at, "outcome": "talked"}
    )
    assert logged.status_code == 201, logged.get_json()

    assert etag_of(as_field_worker, url) != before


# --- If-None-Match: 304 -------------------------------------------------------------------


def test_a_current_if_none_match_is_304_and_the_read_is_still_recorded(
    app, as_field_worker, make_household, make_person
):
    person = make_person(make_household())
    url = f"/api/v1/persons/{person.id}"
    current = etag_of(as_field_worker, url)
    mark = last_event_id(app)

    response = as_field_worker.get(url, headers={"If-None-Match": current})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == current
    assert "Content-Type" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    # a 304 tells the caller the data they hold is current: that is a look at the person
    assert reads_of(app, "persons", person.id, after=mark) == 1


def test_a_stale_if_none_match_is_200_with_the_body(as_field_worker, make_household):
    household = make_household()
    url = household_url(household)
    stale = etag_of(as_field_worker, url)
    add_member(as_field_worker, household)

    response = as_field_worker.get(url, headers={"If-None-Match": stale})

    assert response.status_code == 200
    assert response.get_json()["member_count"] == 1
    assert response.headers["ETag"] != stale


def test_if_none_match_compares_weakly_and_takes_any_of_several(as_field_worker, make_household):
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)

    weak = as_field_worker.get(url, headers={"If-None-Match": f"W/{current}"})
    listed = as_field_worker.get(url, headers={"If-None-Match": f'"other", {current}'})
    star = as_field_worker.get(url, headers={"If-None-Match": "*"})

    assert [r.status_code for r in (weak, listed, star)] == [304, 304, 304]


def test_empty_or_odd_tags_match_nothing(as_field_worker, make_household):
    url = household_url(make_household())

    read = as_field_worker.get(url, headers={"If-None-Match": '"", "0", W/""'})
    changed = as_field_worker.patch(url, json={"priority": "low"}, headers={"If-Match": '"", x'})

    assert read.status_code == 200
    assert changed.status_code == 412


def test_a_list_page_is_304_until_the_list_changes(as_field_worker, make_household):
    make_household()
    page = as_field_worker.get(f"{HOUSEHOLDS}?limit=1")
    current = page.headers["ETag"]

    same = as_field_worker.get(f"{HOUSEHOLDS}?limit=1", headers={"If-None-Match": current})
    make_household(locality="Hillside")
    changed = as_field_worker.get(f"{HOUSEHOLDS}?limit=1", headers={"If-None-Match": current})

    assert same.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["ETag"] != current


def test_head_answers_the_etag_and_304_like_get(as_field_worker, make_household):
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)

    head = as_field_worker.client.head(url, headers=as_field_worker._headers(None))
    not_modified = as_field_worker.client.head(
        url, headers=as_field_worker._headers({"If-None-Match": current})
    )

    assert head.status_code == 200
    assert head.headers["ETag"] == current
    assert head.data == b""
    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == current


def test_a_write_is_never_answered_304(as_field_worker, make_household):
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)

    response = as_field_worker.post(
        f"{url}/status", json={"status": "engaging"}, headers={"If-None-Match": current}
    )

    assert response.status_code == 200


def test_a_compressed_answers_etag_is_understood_when_sent_back(as_field_worker, make_household):
    """flask-compress appends the coding to the ETag of a compressed answer ("…:gzip"); a
    client that sends that form back is understood."""
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)
    gzipped = f'{current[:-1]}:gzip"'

    cached = as_field_worker.get(url, headers={"If-None-Match": gzipped})
    changed = as_field_worker.patch(url, json={"priority": "high"}, headers={"If-Match": gzipped})

    assert cached.status_code == 304
    assert cached.headers["ETag"] == gzipped  # the form the client's cache holds
    assert changed.status_code == 200, changed.get_json()


# --- If-Match: against the representation as it is now ------------------------------------


def test_a_patch_made_before_a_member_was_added_is_412(as_field_worker, make_household):
    household = make_household()
    url = household_url(household)
    before = etag_of(as_field_worker, url)
    add_member(as_field_worker, household)
    current = etag_of(as_field_worker, url)

    stale = as_field_worker.patch(url, json={"priority": "urgent"}, headers={"If-Match": before})
    changed = as_field_worker.patch(url, json={"priority": "urgent"}, headers={"If-Match": current})

    assert stale.status_code == 412
    assert stale.get_json()["code"] == "stale_version"
    assert stale.headers["ETag"] == current
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] not in (before, current)
    assert changed.headers["ETag"] == etag_of(as_field_worker, url)


def test_a_weak_if_match_never_matches(as_field_worker, make_household):
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)

    response = as_field_worker.patch(
        url, json={"priority": "low"}, headers={"If-Match": f"W/{current}"}
    )

    assert response.status_code == 412


def test_if_match_star_matches_any(as_field_worker, make_household, make_person):
    household = make_household()
    person = make_person(household)

    changed = as_field_worker.patch(
        household_url(household), json={"priority": "urgent"}, headers={"If-Match": "*"}
    )
    renamed = as_field_worker.patch(
        f"/api/v1/persons/{person.id}", json={"full_name": "Olena K."}, headers={"If-Match": "*"}
    )

    assert changed.status_code == 200
    assert renamed.status_code == 200


def test_a_person_patch_is_judged_under_the_lock(as_field_worker, make_household, make_person):
    person = make_person(make_household())
    url = f"/api/v1/persons/{person.id}"
    before = etag_of(as_field_worker, url)
    first = as_field_worker.patch(
        url, json={"mobility": "cannot_walk"}, headers={"If-Match": before}
    )

    second = as_field_worker.patch(url, json={"full_name": "Late"}, headers={"If-Match": before})

    assert first.status_code == 200
    assert second.status_code == 412
    assert second.headers["ETag"] == first.headers["ETag"] == etag_of(as_field_worker, url)


def test_a_patch_that_forgets_to_check_if_match_is_caught(app):
    """flask-smorest's safety net stays: a PATCH view that never called require_if_match
    warns (an error under pytest); a DELETE, not conditional here, does not."""
    probe = Blueprint("etag_probe", __name__)
    with app.test_request_context("/probe", method="PATCH"):
        probe._check_precondition()
        with pytest.warns(UserWarning, match="ETag not checked"):
            probe._verify_check_etag()
    with app.test_request_context("/probe", method="DELETE"):
        probe._check_precondition()  # no 428 before the view: the view answers it
        probe._verify_check_etag()


# --- writes answer with the ETag a GET gives ----------------------------------------------


def test_an_action_answers_with_the_etag_of_the_following_get(
    as_field_worker, as_coordinator, make_household, make_evacuation, team
):
    household = make_household()
    moved = as_field_worker.post(f"{household_url(household)}/status", json={"status": "engaging"})
    evacuation = make_evacuation(team)
    cancelled = as_coordinator.post(f"/api/v1/evacuations/{evacuation.id}/cancel", json={})

    assert moved.status_code == cancelled.status_code == 200
    assert moved.headers["ETag"] == etag_of(as_field_worker, household_url(household))
    assert cancelled.headers["ETag"] == etag_of(
        as_coordinator, f"/api/v1/evacuations/{evacuation.id}"
    )


def test_a_create_answers_with_the_etag_of_the_following_get(as_coordinator, team):
    """Even when the client wrote its time with an offset (the answer shows it in UTC)."""
    departure = dt.datetime.now(dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(days=1)
    created = as_coordinator.post(
        "/api/v1/evacuations",
        json={
            "team_id": str(team.id),
            "planned_departure": departure.isoformat(),
            "mode": "on_foot",
            "meeting_point": "The old water tower",
        },
    )

    assert created.status_code == 201, created.get_json()
    assert created.headers["ETag"] == etag_of(as_coordinator, created.headers["Location"])


def test_logging_in_answers_no_etag(client, field_worker):
    from tests.conftest import PASSWORD

    response = client.post(
        "/api/v1/auth/tokens", json={"username": field_worker.username, "password": PASSWORD}
    )

    assert response.status_code == 201
    assert "ETag" not in response.headers


# --- the document -------------------------------------------------------------------------


def test_the_document_describes_etags_and_conditional_requests(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    components = spec["components"]

    get_one = paths["/api/v1/households/{household_id}"]["get"]
    assert {"$ref": "#/components/parameters/IF_NONE_MATCH"} in get_one["parameters"]
    assert get_one["responses"]["304"]["headers"]["ETag"] == {"$ref": "#/components/headers/ETAG"}
    assert get_one["responses"]["200"]["headers"]["ETag"] == {"$ref": "#/components/headers/ETAG"}

    patch = paths["/api/v1/households/{household_id}"]["patch"]
    assert {"$ref": "#/components/parameters/IF_MATCH"} in patch["parameters"]
    assert {"412", "428"} <= set(patch["responses"])
    assert components["parameters"]["IF_MATCH"]["required"] is True
    assert components["parameters"]["IF_MATCH"]["in"] == "header"
    assert components["parameters"]["IF_NONE_MATCH"]["in"] == "header"
    assert "ETAG" in components["headers"]

    status = paths["/api/v1/households/{household_id}/status"]["post"]
    [if_match] = [p for p in status["parameters"] if p.get("name") == "If-Match"]
    assert if_match["required"] is False
    assert "ETag" in status["responses"]["200"]["headers"]

    listing = paths["/api/v1/households"]["get"]
    assert "304" in listing["responses"]
    login = paths["/api/v1/auth/tokens"]["post"]
    assert "ETag" not in login["responses"]["201"].get("headers", {})


def test_only_content_codings_are_taken_off_a_tag(as_field_worker, make_household):
    url = household_url(make_household())
    current = etag_of(as_field_worker, url)
    for coding in ("zstd", "br", "gzip", "deflate"):
        suffixed = f'{current[:-1]}:{coding}"'
        assert as_field_worker.get(url, headers={"If-None-Match": suffixed}).status_code == 304

    odd = f'{current[:-1]}:x"'
    read = as_field_worker.get(url, headers={"If-None-Match": odd})
    changed = as_field_worker.patch(url, json={"priority": "low"}, headers={"If-Match": odd})

    assert read.status_code == 200
    assert changed.status_code == 412


# --- every GET that documents a 304 answers one -------------------------------------------

#: Each GET operation documenting a 304, with the role that reads it (the path's variables
#: are filled from the ``world`` fixture).
CONDITIONAL_GETS = {
    "/api/v1/me": "field_worker",
    "/api/v1/teams": "field_worker",
    "/api/v1/users": "admin",
    "/api/v1/users/{user_id}": "admin",
    "/api/v1/households": "field_worker",
    "/api/v1/households/{household_id}": "field_worker",
    "/api/v1/households/{household_id}/members": "field_worker",
    "/api/v1/persons/{person_id}": "field_worker",
    "/api/v1/persons/{person_id}/guardians": "field_worker",
    "/api/v1/guardianships/{guardianship_id}": "field_worker",
    "/api/v1/households/{household_id}/visits": "field_worker",
    "/api/v1/consents": "coordinator",
    "/api/v1/consents/{consent_id}": "coordinator",
    "/api/v1/persons/{person_id}/eligibility": "field_worker",
    "/api/v1/households/{household_id}/timeline": "field_worker",
    "/api/v1/housing-offers": "field_worker",
    "/api/v1/housing-offers/{offer_id}": "field_worker",
    "/api/v1/households/{household_id}/housing-matches": "coordinator",
    "/api/v1/households/{household_id}/housing-proposals": "coordinator",
    "/api/v1/evacuations": "coordinator",
    "/api/v1/evacuations/{evacuation_id}": "coordinator",
    "/api/v1/audit-events": "admin",
    "/api/v1/audit-events/verify": "admin",
    "/api/v1/reports/summary": "coordinator",
}


def _documented_conditional_gets(client) -> set[str]:
    spec = client.get("/api/v1/openapi.json").get_json()
    return {
        path
        for path, operations in spec["paths"].items()
        if "304" in operations.get("get", {}).get("responses", {})
    }


@pytest.fixture(scope="module")
def one_of_everything(app, shared_transaction):
    """One of everything a conditional GET can show, and a user of each role: made once for
    the module (each test's writes are rolled back)."""
    from app.visits import service as visits

    make, coordinator, team = makers_of_their_own(app)
    field_worker, admin = make.user(FIELD_WORKER, team), make.user(ADMIN)
    case = build_case(
        make, team, household={"locality": "Riverside"}, mother={"age": 34}, child={"age": 7}
    )
    with app.app_context():
        actor = db.session.get(User, field_worker.id)
        visited_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        visits.log_visit(actor, case.household.id, {"visited_at": visited_at, "outcome": "talked"})
        db.session.commit()
    consent = make.consent(coordinator, case.mother)
    ids = {
        "user_id": field_worker.id,
        "household_id": case.household.id,
        "person_id": case.child.id,
        "guardianship_id": case.guardianship.id,
        "consent_id": consent.id,
        "offer_id": case.offer.id,
        "evacuation_id": case.evacuation.id,
    }
    return ids, {"field_worker": field_worker, "coordinator": coordinator, "admin": admin}


@pytest.fixture
def world(one_of_everything, login):
    """The module's case, and a client for each role."""
    ids, users = one_of_everything
    return ids, {role: login(user) for role, user in users.items()}


def test_every_conditional_get_is_listed_here(client):
    assert _documented_conditional_gets(client) == set(CONDITIONAL_GETS)


@pytest.mark.parametrize("path", sorted(CONDITIONAL_GETS))
def test_a_current_if_none_match_is_304_on_every_conditional_get(client, world, path):
    assert path in _documented_conditional_gets(client)
    ids, clients = world
    reader = clients[CONDITIONAL_GETS[path]]
    url = path.format(**ids)

    first = reader.get(url)
    assert first.status_code == 200, first.get_json()
    current = first.headers["ETag"]
    again = reader.get(url, headers={"If-None-Match": current})

    assert again.status_code == 304, (path, current, again.headers.get("ETag"))
    assert again.headers["ETag"] == current
    assert again.data == b""


@pytest.mark.parametrize(
    ("path", "stamp"),
    [
        ("/api/v1/persons/{person_id}/eligibility", "evaluated_at"),
        ("/api/v1/reports/summary", "generated_at"),
    ],
)
def test_a_computed_answer_has_a_weak_etag_without_its_timestamp(world, path, stamp):
    """Stamped with when it was computed, it is never byte-equal twice: a weak ETag over the
    rest says "equivalent", and changes when the rest does."""
    ids, clients = world
    url = path.format(**ids)
    first = clients["coordinator"].get(url)
    second = clients["coordinator"].get(url)

    assert first.headers["ETag"].startswith('W/"')
    assert first.headers["ETag"] == second.headers["ETag"]
    assert stamp in first.get_json()
    strong = clients["coordinator"].get(url, headers={"If-None-Match": first.headers["ETag"][2:]})
    assert strong.status_code == 304  # If-None-Match compares weakly
    assert strong.headers["ETag"] == first.headers["ETag"]


def test_the_reports_weak_etag_changes_with_its_figures(as_coordinator, make_household):
    before = etag_of(as_coordinator, "/api/v1/reports/summary")
    make_household(locality="Hillside")

    after = as_coordinator.get("/api/v1/reports/summary", headers={"If-None-Match": before})

    assert after.status_code == 200
    assert after.headers["ETag"] != before
