"""Who may record, review and revoke a decision: each rule through the service and HTTP.

DESIGN §4 clauses 5 and 6, the consent record of §3 (never edited or deleted) and the
scoping of §2. ``acts`` runs the same request either way (see ``tests/consents/support.py``).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from app.auth.models import COORDINATOR
from app.db import utcnow
from tests.conftest import Makers, staff_shared_by_the_module, team_maker, user_maker
from tests.consents.support import VIAS, Actions, authority, payload, stored_consents
from tests.households.helpers import born

#: a rule tested twice: through the service and through HTTP
both_ways = pytest.mark.parametrize("via", VIAS)


@pytest.fixture
def acts(via, app, login, monkeypatch) -> Actions:
    return Actions(via, app, login, monkeypatch)


# every test here starts from the same staff and family: made once, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


@pytest.fixture(scope="module")
def social_desk(app, shared_staff):
    """A second coordinator: the one who records social-services authorizations."""
    return user_maker(app, team_maker(app))(COORDINATOR, username="socialdesk")


@pytest.fixture(scope="module")
def family(app, coordinator, team):
    """Team North's household: a mother, her son, a grandmother, an orphaned niece."""
    make = Makers.acting_as(app, coordinator, team)
    household = make.household(team=team)
    mother = make.person(household, full_name="Olena Melnyk", age=34, sex="female")
    child = make.person(household, full_name="Dmytro Melnyk", age=None, date_of_birth=born(8))
    grandmother = make.person(household, full_name="Halyna Melnyk", age=66, sex="female")
    orphan = make.person(household, full_name="Sofiia Bondar", age=None, date_of_birth=born(12))
    return SimpleNamespace(
        household=household,
        mother=mother,
        child=child,
        grandmother=grandmother,
        orphan=orphan,
        mother_link=make.guardian(child, mother, "mother"),
        grandmother_link=make.guardian(child, grandmother, "grandparent"),
        dead_father_link=make.guardian(
            child, None, "father", external_name="Andrii Melnyk", legal_status="deceased"
        ),
        orphan_guardian_link=make.guardian(orphan, grandmother, "legal_guardian"),
    )


def refused(outcome, status: int, code: str | None = None) -> None:
    assert outcome.status == status, outcome.body
    if code is not None:
        assert outcome.code == code, outcome.body


# --- who may decide for whom (DESIGN §4, clauses 2-5) -----------------------------------------


@both_ways
@pytest.mark.parametrize("link_name", ["grandmother_link", "dead_father_link"])
def test_parental_decision_through_a_link_that_is_not_a_parent_is_refused(
    acts, family, field_worker, app, link_name
):
    outcome = acts.record(
        field_worker, payload(family.child, "parental", "granted", getattr(family, link_name))
    )

    refused(outcome, 422, "not_a_parent")
    assert outcome.reason_codes == {"not_a_parent"}
    assert "guardianship_id" in outcome.body["errors"]
    assert stored_consents(app) == []


@both_ways
def test_social_services_for_a_child_who_has_a_parent_is_refused(acts, family, social_desk, app):
    outcome = acts.record(
        social_desk,
        payload(
            family.child,
            "social_services",
            "granted",
            authority=authority(),
            evidence="authority_document",
        ),
    )

    refused(outcome, 422, "has_parent")
    assert outcome.reason_codes == {"has_parent"}
    assert stored_consents(app) == []


@both_ways
def test_a_child_cannot_decide_for_themselves(acts, family, field_worker, app):
    outcome = acts.record(field_worker, payload(family.child, "self", "granted"))

    refused(outcome, 422)
    assert "basis" in outcome.body["errors"]
    assert stored_consents(app) == []


@both_ways
@pytest.mark.parametrize("basis", ["parental", "social_services"])
def test_nobody_else_decides_for_an_adult(acts, family, social_desk, app, basis):
    extra = (
        {"authority": authority(), "evidence": "authority_document"}
        if basis == "social_services"
        else {}
    )
    link = family.mother_link if basis == "parental" else None

    outcome = acts.record(social_desk, payload(family.mother, basis, "granted", link, **extra))

    refused(outcome, 422)
    assert "basis" in outcome.body["errors"]
    assert stored_consents(app) == []


@both_ways
def test_a_field_worker_cannot_record_a_social_services_authorization(
    acts, family, field_worker, app
):
    outcome = acts.record(
        field_worker,
        payload(
            family.orphan,
            "social_services",
            "granted",
            authority=authority(),
            evidence="authority_document",
        ),
    )

    refused(outcome, 403, "coordinator_required")
    assert stored_consents(app) == []


# --- review status on recording (DESIGN §4, clause 6) -----------------------------------------


@both_ways
@pytest.mark.parametrize(
    ("who", "basis", "decision", "review_status"),
    [
        ("child", "parental", "granted", "pending_review"),
        ("orphan", "social_services", "granted", "pending_review"),
        ("child", "parental", "refused", "not_required"),
        ("orphan", "social_services", "refused", "not_required"),
        ("mother", "self", "granted", "not_required"),
        ("mother", "self", "refused", "not_required"),
    ],
)
def test_grants_for_children_await_review_everything_else_takes_effect_at_once(
    acts, family, field_worker, social_desk, app, who, basis, decision, review_status
):
    subject = getattr(family, who)
    extra = {}
    recorder = field_worker
    if basis == "social_services":
        extra = {"authority": authority(), "evidence": "authority_document"}
        recorder = social_desk
    link = family.mother_link if basis == "parental" else None

    outcome = acts.record(recorder, payload(subject, basis, decision, link, **extra))

    assert outcome.status == 201, outcome.body
    body = outcome.body
    assert body["review_status"] == review_status
    assert body["subject_id"] == str(subject.id)
    assert (body["basis"], body["decision"]) == (basis, decision)
    assert body["recorded_by"] == str(recorder.id)
    assert body["recorded_at"]
    assert body["reviewed_by"] is None
    assert body["revoked_at"] is None
    [stored] = stored_consents(app)
    assert (str(stored.id), stored.review_status) == (body["id"], review_status)


# --- the record itself -------------------------------------------------------------------------


@both_ways
def test_witnessed_verbal_decision_names_its_witness(acts, family, field_worker, app):
    unnamed = acts.record(
        field_worker, payload(family.mother, "self", "granted", evidence="witnessed_verbal")
    )
    blank = acts.record(
        field_worker,
        payload(family.mother, "self", "granted", evidence="witnessed_verbal", witness_name="  "),
    )
    named = acts.record(
        field_worker,
        payload(
            family.mother,
            "self",
            "granted",
            evidence="witnessed_verbal",
            witness_name="Neighbour, Petro Savchuk",
        ),
    )

    for outcome in (unnamed, blank):
        refused(outcome, 422)
        assert "witness_name" in outcome.body["errors"]
    assert named.status == 201, named.body
    assert named.body["witness_name"] == "Neighbour, Petro Savchuk"
    assert len(stored_consents(app)) == 1


@both_ways
def test_a_decision_cannot_be_given_in_the_future(acts, family, field_worker, app):
    tomorrow = (utcnow() + dt.timedelta(days=1)).isoformat()

    outcome = acts.record(
        field_worker, payload(family.mother, "self", "granted", given_at=tomorrow)
    )

    refused(outcome, 422)
    assert "given_at" in outcome.body["errors"]
    assert stored_consents(app) == []


@both_ways
def test_the_visit_must_be_one_of_the_persons_household(
    acts, family, field_worker, make_household, as_coordinator, app
):
    elsewhere = make_household(locality="Hillside")

    def visit_to(household) -> str:
        response = as_coordinator.post(
            f"/api/v1/households/{household.id}/visits",
            json={
                "visited_at": (utcnow() - dt.timedelta(hours=2)).isoformat(),
                "outcome": "agreed",
            },
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    foreign = acts.record(
        field_worker, payload(family.mother, "self", "granted", visit_id=visit_to(elsewhere))
    )
    own_visit = visit_to(family.household)
    own = acts.record(field_worker, payload(family.mother, "self", "granted", visit_id=own_visit))

    refused(foreign, 422)
    assert "visit_id" in foreign.body["errors"]
    assert own.status == 201, own.body
    assert own.body["visit_id"] == own_visit
    assert len(stored_consents(app)) == 1


def test_a_record_is_never_edited_or_deleted(family, make_consent, field_worker, as_field_worker):
    record = make_consent(field_worker, family.mother, "self", "granted")
    url = f"/api/v1/consents/{record.id}"
    before = as_field_worker.get(url).get_json()

    patched = as_field_worker.patch(url, json={"decision": "refused"})
    deleted = as_field_worker.delete(url)

    assert patched.status_code == 405
    assert deleted.status_code == 405
    assert as_field_worker.get(url).get_json() == before


# --- review: four eyes, once only, with a note (DESIGN §4, clause 6) --------------------------


@pytest.fixture
def pending_authorization(family, make_consent, social_desk):
    """A social-services authorization for the orphan, recorded by the social desk."""
    return make_consent(
        social_desk,
        family.orphan,
        "social_services",
        "granted",
        authority=authority(),
        evidence="authority_document",
    )


@pytest.fixture
def pending_parental_grant(family, make_consent, field_worker):
    return make_consent(field_worker, family.child, "parental", "granted", family.mother_link)


@both_ways
@pytest.mark.parametrize("action", ["verify", "reject"])
def test_the_recorder_never_reviews_their_own_record(
    acts, social_desk, coordinator, pending_authorization, action
):
    own = getattr(acts, action)(social_desk, pending_authorization.id, "Documents checked.")
    other = getattr(acts, action)(coordinator, pending_authorization.id, "Documents checked.")

    refused(own, 403, "four_eyes")
    assert other.status == 200, other.body
    expected = "verified" if action == "verify" else "rejected"
    assert other.body["review_status"] == expected
    assert other.body["reviewed_by"] == str(coordinator.id)
    assert other.body["reviewed_at"]
    assert other.body["review_note"] == "Documents checked."


@both_ways
@pytest.mark.parametrize("first", ["verify", "reject"])
@pytest.mark.parametrize("second", ["verify", "reject"])
def test_a_decided_record_is_not_reviewed_again(
    acts, make_user, coordinator, pending_parental_grant, first, second
):
    another = make_user(COORDINATOR, username="anothercoordinator")
    decided = getattr(acts, first)(coordinator, pending_parental_grant.id, "Checked the form.")
    again = getattr(acts, second)(another, pending_parental_grant.id, "Checked it again.")

    assert decided.status == 200, decided.body
    refused(again, 409, "invalid_transition")
    shown = acts.get(coordinator, pending_parental_grant.id)
    assert shown.body["review_status"] == ("verified" if first == "verify" else "rejected")
    assert shown.body["reviewed_by"] == str(coordinator.id)


@both_ways
def test_a_refusal_needs_no_review(acts, family, make_consent, field_worker, coordinator):
    refusal = make_consent(field_worker, family.child, "parental", "refused", family.mother_link)

    outcome = acts.verify(coordinator, refusal.id)

    refused(outcome, 409, "invalid_transition")


@both_ways
@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_rejection_says_why(acts, coordinator, pending_parental_grant, note):
    outcome = acts.reject(coordinator, pending_parental_grant.id, note)

    refused(outcome, 422)
    assert "note" in outcome.body["errors"]
    assert acts.get(coordinator, pending_parental_grant.id).body["review_status"] == (
        "pending_review"
    )


@both_ways
@pytest.mark.parametrize("action", ["verify", "reject"])
def test_a_field_worker_cannot_review(
    acts, field_worker, coordinator, make_consent, family, action
):
    colleague_record = make_consent(
        coordinator, family.child, "parental", "granted", family.mother_link
    )

    outcome = getattr(acts, action)(field_worker, colleague_record.id, "Looks fine.")

    refused(outcome, 403)
    assert acts.get(coordinator, colleague_record.id).body["review_status"] == "pending_review"


# --- revocation: with a reason, at once, once -------------------------------------------------


@both_ways
def test_a_revocation_takes_effect_at_once(acts, family, make_consent, field_worker):
    grant = make_consent(field_worker, family.mother, "self", "granted")
    assert acts.eligibility(field_worker, family.mother)["eligible"] is True

    unexplained = acts.revoke(field_worker, grant.id, "  ")
    still = acts.eligibility(field_worker, family.mother)
    revoked = acts.revoke(field_worker, grant.id, "She wants to wait for her husband.")
    after = acts.eligibility(field_worker, family.mother)
    again = acts.revoke(field_worker, grant.id, "Once more.")

    refused(unexplained, 422)
    assert "reason" in unexplained.body["errors"]
    assert (still["eligible"], still["consent_id"]) == (True, str(grant.id))
    assert revoked.status == 200, revoked.body
    assert revoked.body["revoked_by"] == str(field_worker.id)
    assert revoked.body["revoked_at"]
    assert revoked.body["revocation_reason"] == "She wants to wait for her husband."
    assert after["eligible"] is False
    assert after["consent_id"] is None
    assert {reason["code"] for reason in after["reasons"]} == {"consent_missing"}
    refused(again, 409, "invalid_transition")
    shown = acts.get(field_worker, grant.id).body
    assert shown["revocation_reason"] == "She wants to wait for her husband."


@both_ways
def test_a_revoked_grant_cannot_be_verified(
    acts, field_worker, coordinator, pending_parental_grant
):
    acts.revoke(field_worker, pending_parental_grant.id, "The mother changed her mind.")

    outcome = acts.verify(coordinator, pending_parental_grant.id)

    refused(outcome, 409, "invalid_transition")


# --- scope (DESIGN §2) -------------------------------------------------------------------------


@both_ways
def test_another_teams_consent_is_not_found_for_a_field_worker(
    acts, family, make_consent, field_worker, other_field_worker, coordinator
):
    grant = make_consent(field_worker, family.mother, "self", "granted")

    shown = acts.get(other_field_worker, grant.id)
    revoked = acts.revoke(other_field_worker, grant.id, "Not my case.")

    refused(shown, 404)
    refused(revoked, 404)
    assert acts.get(coordinator, grant.id).body["revoked_at"] is None
    assert acts.eligibility(field_worker, family.mother)["eligible"] is True


def test_another_teams_person_eligibility_is_not_found(family, as_other_field_worker):
    response = as_other_field_worker.get(f"/api/v1/persons/{family.mother.id}/eligibility")

    assert response.status_code == 404
