"""The coordinators' review queue: what is waiting, the context to decide, one decision each.

``GET /api/v1/consents?review_status=pending_review`` lists the children's grants awaiting a
second pair of eyes, oldest first; verifying or rejecting takes a record out of it, and two
coordinators deciding the same record at the same moment never both succeed.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from types import SimpleNamespace

import pytest

from app.auth.models import COORDINATOR, FIELD_WORKER, User
from app.consents import service as consent_service
from app.extensions import db
from app.households import guardianships, persons
from app.households import service as household_service
from app.households.models import today
from tests.households.helpers import born

QUEUE = "/api/v1/consents?review_status=pending_review"
AUTHORITY = {
    "name": "Riverside Children's Service",
    "officer_name": "Inspector Marchenko",
    "decision_ref": "SS-2024-117",
}


def consent_url(record) -> str:
    return f"/api/v1/consents/{record.id}"


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["items"]]


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


@pytest.fixture
def recorder(make_user, team):
    """A field worker of Team North, with a name a reviewer can read."""
    return make_user(FIELD_WORKER, team, username="mykola", full_name="Mykola Recorder")


@pytest.fixture
def as_recorder(login, recorder):
    return login(recorder)


@pytest.fixture
def second_coordinator(make_user):
    return make_user(COORDINATOR, username="coordinator2", full_name="Svitlana Second")


@pytest.fixture
def family(make_household, make_person, make_guardian, team):
    """Olena, her son Dmytro (8), in Team North's household."""
    household = make_household(team=team)
    mother = make_person(household, full_name="Olena Kovalenko", age=34, sex="female")
    child = make_person(household, full_name="Dmytro Kovalenko", date_of_birth=born(8))
    return SimpleNamespace(
        household=household,
        mother=mother,
        child=child,
        link=make_guardian(child, mother, "mother"),
    )


@pytest.fixture
def orphan(make_household, make_person, team):
    """Ivan (12), no parent on record, in another household of Team North."""
    household = make_household(team=team)
    return SimpleNamespace(
        household=household,
        child=make_person(household, full_name="Ivan Orphan", date_of_birth=born(12, days=-3)),
    )


def parental_grant(make_consent, recorder, family, **fields):
    return make_consent(
        recorder, family.child, "parental", "granted", guardianship=family.link, **fields
    )


def authorization(make_consent, coordinator, orphan, **fields):
    return make_consent(
        coordinator,
        orphan.child,
        "social_services",
        "granted",
        authority={**AUTHORITY, "decision_date": today()},
        evidence="authority_document",
        **fields,
    )


# --- the queue -----------------------------------------------------------------------------


def test_the_queue_lists_pending_grants_oldest_first_with_context(
    as_coordinator,
    as_recorder,
    recorder,
    second_coordinator,
    family,
    orphan,
    make_consent,
):
    visited_at = ago(hours=6).replace(microsecond=0)
    visit = as_recorder.post(
        f"/api/v1/households/{family.household.id}/visits",
        json={"visited_at": visited_at.isoformat(), "outcome": "consent_collected"},
    ).get_json()
    # recorded first, although given later: the queue follows the order of recording
    first = parental_grant(
        make_consent, recorder, family, given_at=ago(minutes=5), visit_id=uuid.UUID(visit["id"])
    )
    make_consent(recorder, family.mother, "self", "granted")  # an adult's own: no review
    make_consent(recorder, family.child, "parental", "refused", guardianship=family.link)
    second = authorization(make_consent, second_coordinator, orphan, given_at=ago(days=2))

    response = as_coordinator.get(QUEUE)

    assert response.status_code == 200
    page = response.get_json()
    assert ids(page) == [str(first.id), str(second.id)]
    assert page["next_cursor"] is None
    assert {item["review_status"] for item in page["items"]} == {"pending_review"}
    parental, social = page["items"]
    assert parental["context"] == {
        "subject_name": "Dmytro Kovalenko",
        "subject_age": 8,
        "subject_is_child": True,
        "subject_dob_estimated": False,
        "household_id": str(family.household.id),
        "household_ref": family.household.ref,
        "given_by": "Olena Kovalenko",
        "relationship": "mother",
        "relationship_status": "active",
        "recorded_by_name": "Mykola Recorder",
        "visit_visited_at": parental["context"]["visit_visited_at"],
    }
    assert dt.datetime.fromisoformat(parental["context"]["visit_visited_at"]) == visited_at
    assert parental["evidence"] == "signed_form"
    assert social["context"]["subject_name"] == "Ivan Orphan"
    assert social["context"]["subject_age"] == 12
    assert social["context"]["household_ref"] == orphan.household.ref
    assert social["context"]["given_by"] == AUTHORITY["name"]
    assert social["context"]["relationship"] is None
    assert social["context"]["recorded_by_name"] == "Svitlana Second"
    assert social["context"]["visit_visited_at"] is None
    assert social["authority"]["decision_ref"] == AUTHORITY["decision_ref"]


def test_the_queue_pages_in_order(as_coordinator, recorder, family, make_consent):
    records = [parental_grant(make_consent, recorder, family) for _ in range(3)]

    first = as_coordinator.get(f"{QUEUE}&limit=2").get_json()
    second = as_coordinator.get(f"{QUEUE}&limit=2&cursor={first['next_cursor']}").get_json()

    assert ids(first) + ids(second) == [str(r.id) for r in records]
    assert second["next_cursor"] is None


def test_verifying_takes_a_record_out_of_the_queue(
    as_coordinator, coordinator, recorder, family, make_consent
):
    verified = parental_grant(make_consent, recorder, family)
    waiting = parental_grant(make_consent, recorder, family)

    response = as_coordinator.post(
        f"{consent_url(verified)}/verify", json={"note": "Form and passport match."}
    )

    assert response.status_code == 200, response.get_json()
    assert ids(as_coordinator.get(QUEUE).get_json()) == [str(waiting.id)]
    stored = as_coordinator.get(consent_url(verified)).get_json()
    assert stored["review_status"] == "verified"
    assert stored["reviewed_by"] == str(coordinator.id)
    reviewed_at = dt.datetime.fromisoformat(stored["reviewed_at"])
    assert ago(minutes=1) < reviewed_at <= dt.datetime.now(dt.UTC)
    assert stored["review_note"] == "Form and passport match."
    again = as_coordinator.post(f"{consent_url(verified)}/verify", json={})
    assert again.status_code == 409
    assert again.get_json()["code"] == "invalid_transition"


@pytest.mark.parametrize("body", [{}, {"note": ""}, {"note": "   "}, {"note": None}])
def test_a_rejection_needs_a_note(as_coordinator, recorder, family, make_consent, body):
    record = parental_grant(make_consent, recorder, family)

    response = as_coordinator.post(f"{consent_url(record)}/reject", json=body)

    assert response.status_code == 422
    assert "note" in response.get_json()["errors"]
    assert ids(as_coordinator.get(QUEUE).get_json()) == [str(record.id)]


def test_a_rejection_with_a_note_leaves_the_queue(
    as_coordinator, coordinator, recorder, family, make_consent
):
    record = parental_grant(make_consent, recorder, family)

    response = as_coordinator.post(
        f"{consent_url(record)}/reject", json={"note": "Signature does not match."}
    )

    assert response.status_code == 200
    assert response.get_json()["review_status"] == "rejected"
    assert response.get_json()["reviewed_by"] == str(coordinator.id)
    assert response.get_json()["review_note"] == "Signature does not match."
    assert ids(as_coordinator.get(QUEUE).get_json()) == []


# --- scope and filters ---------------------------------------------------------------------


def test_a_field_worker_sees_only_their_teams_consents(
    as_field_worker,
    recorder,
    other_field_worker,
    family,
    make_household,
    make_person,
    make_consent,
    other_team,
):
    ours = parental_grant(make_consent, recorder, family)
    southern = make_person(make_household(team=other_team), full_name="Southerner", age=40)
    theirs = make_consent(other_field_worker, southern, "self", "granted")

    assert ids(as_field_worker.get("/api/v1/consents").get_json()) == [str(ours.id)]
    assert ids(as_field_worker.get(QUEUE).get_json()) == [str(ours.id)]
    assert as_field_worker.get(consent_url(theirs)).status_code == 404
    assert as_field_worker.get(consent_url(ours)).status_code == 200


def test_the_list_filters(
    as_coordinator, recorder, second_coordinator, family, orphan, make_consent
):
    grant = parental_grant(make_consent, recorder, family)
    refusal = make_consent(recorder, family.child, "parental", "refused", guardianship=family.link)
    own = make_consent(recorder, family.mother, "self", "granted")
    authority = authorization(make_consent, second_coordinator, orphan)

    def listed(query: str) -> set[str]:
        response = as_coordinator.get(f"/api/v1/consents?{query}")
        assert response.status_code == 200, response.get_json()
        return set(ids(response.get_json()))

    assert listed("") == {str(r.id) for r in (grant, refusal, own, authority)}
    assert listed(f"subject_id={family.child.id}") == {str(grant.id), str(refusal.id)}
    assert listed(f"household_id={family.household.id}") == {
        str(grant.id),
        str(refusal.id),
        str(own.id),
    }
    assert listed(f"household_id={orphan.household.id}") == {str(authority.id)}
    assert listed("basis=social_services") == {str(authority.id)}
    assert listed("basis=self") == {str(own.id)}
    assert listed("decision=refused") == {str(refusal.id)}
    assert listed(f"decision=granted&subject_id={family.child.id}") == {str(grant.id)}
    assert listed("review_status=not_required") == {str(refusal.id), str(own.id)}
    assert as_coordinator.get("/api/v1/consents?review_status=waiting").status_code == 422
    assert as_coordinator.get("/api/v1/consents?basis=grandparent").status_code == 422


def test_an_admin_may_not_see_the_queue(as_admin):
    assert as_admin.get(QUEUE).status_code == 403


# --- constant queries ----------------------------------------------------------------------


def pending_grants(app, recorder, team, count: int) -> None:
    """``count`` children of their own households, each with a mother's pending grant."""
    with app.app_context():
        actor = db.session.get(User, recorder.id)
        for n in range(count):
            household = household_service.create_household(actor, {"locality": f"Street {n}"})
            mother = persons.add_member(
                actor, household.id, {"full_name": f"Mother {n}", "estimated_age": 30 + n % 10}
            )
            child = persons.add_member(
                actor, household.id, {"full_name": f"Child {n}", "date_of_birth": born(2 + n % 15)}
            )
            link = guardianships.add_guardian(
                actor, child.id, {"guardian_person_id": mother.id, "relationship": "mother"}
            )
            consent_service.record_consent(
                actor,
                {
                    "subject_id": child.id,
                    "basis": "parental",
                    "decision": "granted",
                    "guardianship_id": link.id,
                    "given_at": dt.datetime.now(dt.UTC),
                    "evidence": "signed_form",
                },
            )
        db.session.commit()


def test_the_queue_costs_the_same_queries_for_1_and_30_items(
    app, as_coordinator, recorder, team, count_queries
):
    def queries_for_queue(expected: int) -> int:
        assert len(as_coordinator.get(f"{QUEUE}&limit=50").get_json()["items"]) == expected
        with count_queries() as counter:
            response = as_coordinator.get(f"{QUEUE}&limit=50")
        assert len(response.get_json()["items"]) == expected
        return counter.count

    pending_grants(app, recorder, team, 1)
    one = queries_for_queue(1)
    pending_grants(app, recorder, team, 29)
    thirty = queries_for_queue(30)

    assert thirty == one


# --- two coordinators at once --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.commits
def test_two_coordinators_verifying_at_once_one_wins(
    app, login, coordinator, second_coordinator, recorder, family, make_consent
):
    """Each coordinator in a thread of their own, on a connection of their own."""
    record = parental_grant(make_consent, recorder, family)
    reviewers = {c.id: login(c).token for c in (coordinator, second_coordinator)}
    barrier = threading.Barrier(len(reviewers))
    results: dict = {}

    def verify(user_id, token):
        with app.test_client() as client:
            barrier.wait()
            response = client.post(
                f"{consent_url(record)}/verify",
                json={"note": "Checked."},
                headers={"Authorization": f"Bearer {token}"},
            )
            results[user_id] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=verify, args=item) for item in reviewers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(status for status, _ in results.values()) == [200, 409]
    winner = next(uid for uid, (status, _) in results.items() if status == 200)
    loser_body = next(body for status, body in results.values() if status == 409)
    assert loser_body["code"] == "invalid_transition"
    assert results[winner][1]["reviewed_by"] == str(winner)
    stored = login(coordinator).get(consent_url(record)).get_json()
    assert stored["review_status"] == "verified"
    assert stored["reviewed_by"] == str(winner)
    timeline = (
        login(coordinator).get(f"/api/v1/households/{family.household.id}/timeline").get_json()
    )
    assert [e["kind"] for e in timeline["items"]].count("consent_verified") == 1


def test_a_grant_revoked_before_review_leaves_the_queue(
    as_coordinator, as_recorder, recorder, family, make_consent
):
    """Nothing is left to review once the parent has withdrawn the consent."""
    withdrawn = parental_grant(make_consent, recorder, family)
    waiting = parental_grant(make_consent, recorder, family)
    revoked = as_recorder.post(
        f"{consent_url(withdrawn)}/revoke", json={"reason": "The mother changed her mind."}
    )
    assert revoked.status_code == 200

    assert ids(as_coordinator.get(QUEUE).get_json()) == [str(waiting.id)]
    still_readable = as_coordinator.get(consent_url(withdrawn)).get_json()
    assert still_readable["review_status"] == "pending_review"
    assert still_readable["revoked_at"] is not None


def test_times_are_answered_in_utc(as_recorder, family):
    given = dt.datetime.now(dt.timezone(dt.timedelta(hours=3))) - dt.timedelta(hours=1)
    response = as_recorder.post(
        "/api/v1/consents",
        json={
            "subject_id": str(family.child.id),
            "basis": "parental",
            "decision": "refused",
            "guardianship_id": str(family.link.id),
            "given_at": given.isoformat(),
            "evidence": "signed_form",
        },
    )
    assert response.status_code == 201
    answered = response.get_json()["given_at"]
    assert answered.endswith("+00:00")
    assert dt.datetime.fromisoformat(answered) == given


def test_withdrawing_a_refusal_takes_a_second_coordinator(
    as_recorder, as_coordinator, login, make_user, recorder, family, make_consent
):
    """A refusal protects the child; lifting it is not one field worker's call."""
    refusal = make_consent(recorder, family.child, "parental", "refused", guardianship=family.link)
    body = {"reason": "Recorded against the wrong child."}
    by_field = as_recorder.post(f"{consent_url(refusal)}/revoke", json=body)
    assert by_field.status_code == 403
    assert by_field.get_json()["code"] == "coordinator_required"

    own = make_user(COORDINATOR, username="selfrecorder")
    own_refusal = make_consent(own, family.child, "parental", "refused", guardianship=family.link)
    by_recorder = login(own).post(f"{consent_url(own_refusal)}/revoke", json=body)
    assert by_recorder.status_code == 403
    assert by_recorder.get_json()["code"] == "four_eyes"

    lifted = as_coordinator.post(f"{consent_url(refusal)}/revoke", json=body)
    assert lifted.status_code == 200
    assert lifted.get_json()["revoked_by"] is not None
