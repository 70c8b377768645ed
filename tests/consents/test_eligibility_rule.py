"""The eligibility rule (DESIGN §4), table-driven: every case through the service and HTTP.

Each case builds a household with the factories and the consent services (records are
recorded by a field worker, or by a coordinator for the social services, and reviewed by
another coordinator), then asks the rule once through ``evaluate_eligibility`` and once
through ``GET /api/v1/persons/{id}/eligibility`` as a field worker of the household's team.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.auth.models import COORDINATOR, User
from app.consents import service as consent_service
from app.db import utcnow
from app.extensions import db
from app.households import guardianships, persons
from app.households.models import Guardianship, today
from tests.conftest import staff_shared_by_the_module, team_maker, user_maker
from tests.consents.support import VIAS, Actions, authority, payload
from tests.households.helpers import born

SELF, PARENTAL, SOCIAL = "self_consent", "parental_consent", "social_services_authorization"


class Scene:
    """One household and the decisions recorded about its people, named for the table."""

    def __init__(self, app, acts, make_household, make_person, make_guardian, make_consent, staff):
        self.app = app
        self.acts = acts
        self.make_person = make_person
        self.make_guardian = make_guardian
        self.make_consent = make_consent
        self.field_worker, self.coordinator, self.social_desk = staff
        self.household = make_household()
        self.records: dict[str, object] = {}
        #: when the rule is asked; None: now
        self.at: dt.datetime | None = None
        # decisions are given one after another, a minute apart, starting yesterday
        self._clock = utcnow() - dt.timedelta(days=1)

    # --- people ---------------------------------------------------------------------------

    def adult(self, age: int = 35, **fields):
        return self.make_person(self.household, age=age, **fields)

    def child(self, years: int = 8, days: int = 0, **fields):
        return self.make_person(self.household, age=None, date_of_birth=born(years, days), **fields)

    def link(self, child, guardian=None, relationship: str = "mother", **fields) -> Guardianship:
        if guardian is None:
            fields.setdefault("external_name", f"The {relationship.replace('_', ' ')}, abroad")
        return self.make_guardian(child, guardian, relationship, **fields)

    def set_legal_status(self, link: Guardianship, legal_status: str) -> None:
        with self.app.app_context():
            actor = db.session.get(User, self.coordinator.id)
            guardianships.update_guardianship(actor, link.id, {"legal_status": legal_status})
            db.session.commit()

    # --- decisions ------------------------------------------------------------------------

    def record(self, name: str, subject, basis: str, decision: str, link=None, **fields):
        """Record a decision through ``record_consent``; the field worker, or the social desk."""
        recorder = self.social_desk if basis == "social_services" else self.field_worker
        if basis == "social_services":
            fields.setdefault("authority", authority())
            fields.setdefault("evidence", "authority_document")
        if "given_at" not in fields:
            self._clock += dt.timedelta(minutes=1)
            fields["given_at"] = self._clock
        self.records[name] = self.make_consent(
            recorder, subject, basis, decision, guardianship=link, **fields
        )
        return self.records[name]

    def verify(self, name: str) -> None:
        self._act(lambda actor, record: consent_service.verify_consent(actor, record.id), name)

    def reject(self, name: str) -> None:
        self._act(
            lambda actor, record: consent_service.reject_consent(
                actor, record.id, "The signature does not match the passport."
            ),
            name,
        )

    def revoke(self, name: str) -> None:
        """A field worker revokes a grant; a refusal takes a coordinator who did not record it."""
        refusal = self.records[name].decision == "refused"
        self._act(
            lambda actor, record: consent_service.revoke_consent(
                actor, record.id, "Changed their mind at the next visit."
            ),
            name,
            by=self.coordinator if refusal else self.field_worker,
        )

    def _act(self, operation, name: str, by=None) -> None:
        with self.app.app_context():
            actor = db.session.get(User, (by or self.coordinator).id)
            operation(actor, self.records[name])
            db.session.commit()


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Scene], object]
    requirement: str
    eligible: bool
    basis: str | None = None
    consent: str | None = None
    reasons: frozenset[str] = frozenset()


def met(build, requirement: str, basis: str, consent: str) -> Case:
    return Case(build.__name__, build, requirement, True, basis, consent)


def blocked(build, requirement: str, *reasons: str) -> Case:
    return Case(build.__name__, build, requirement, False, reasons=frozenset(reasons))


def _expired() -> dict:
    """A decision given ten days ago that held until yesterday."""
    return {
        "given_at": utcnow() - dt.timedelta(days=10),
        "valid_until": today() - dt.timedelta(days=1),
    }


# adults decide for themselves


def adult_granted(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted")
    return person


def adult_refused(s: Scene):
    person = s.adult()
    s.record("refusal", person, "self", "refused")
    return person


def adult_with_nothing_on_record(s: Scene):
    return s.adult()


def adult_later_refusal_supersedes_grant(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted")
    s.record("refusal", person, "self", "refused")
    return person


def adult_later_grant_supersedes_refusal(s: Scene):
    person = s.adult()
    s.record("refusal", person, "self", "refused")
    s.record("grant", person, "self", "granted")
    return person


def adult_refusal_logged_late_but_given_earlier_does_not_supersede(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted", given_at=utcnow() - dt.timedelta(hours=1))
    s.record("refusal", person, "self", "refused", given_at=utcnow() - dt.timedelta(hours=3))
    return person


def adult_revoked_refusal_does_not_revive_the_earlier_grant(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted")
    s.record("refusal", person, "self", "refused")
    s.revoke("refusal")
    return person


def adult_grant_and_refusal_given_at_the_same_moment(s: Scene):
    person = s.adult()
    moment = utcnow() - dt.timedelta(hours=2)
    s.record("refusal", person, "self", "refused", given_at=moment)
    s.record("grant", person, "self", "granted", given_at=moment)
    return person


def adult_revoked_grant(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted")
    s.revoke("grant")
    return person


def adult_expired_grant(s: Scene):
    person = s.adult()
    s.record("grant", person, "self", "granted", **_expired())
    return person


def adult_who_left_with_a_grant(s: Scene):
    person = s.adult(status="left")
    s.record("grant", person, "self", "granted")
    return person


def adult_who_left_with_nothing_on_record(s: Scene):
    return s.adult(status="left")


# a child with a parent: a parent decides


def _child_and_mother(s: Scene):
    child = s.child()
    mother = s.adult(full_name="Olena Melnyk", sex="female")
    return child, s.link(child, mother, "mother")


def one_parent_grant_pending_review(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    return child


def one_parent_grant_verified(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    return child


def one_parent_grant_rejected(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.reject("grant")
    return child


def one_parent_grant_verified_then_revoked(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    s.revoke("grant")
    return child


def one_parent_grant_verified_but_expired(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother, **_expired())
    s.verify("grant")
    return child


def one_parent_refused(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("refusal", child, "parental", "refused", mother)
    return child


def parent_later_refusal_supersedes_own_verified_grant(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    s.record("refusal", child, "parental", "refused", mother)
    return child


def parent_later_verified_grant_supersedes_own_refusal(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("refusal", child, "parental", "refused", mother)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    return child


def outside_father_grant_verified(s: Scene):
    child = s.child()
    father = s.link(child, None, "father", external_contact="+48 600 000 000 (Warsaw)")
    s.record("grant", child, "parental", "granted", father, evidence="remote_confirmed")
    s.verify("grant")
    return child


def adoptive_parent_grant_verified(s: Scene):
    child = s.child()
    parent = s.link(child, s.adult(), "adoptive_parent")
    s.record("grant", child, "parental", "granted", parent)
    s.verify("grant")
    return child


def _child_and_parents(s: Scene):
    child, mother = _child_and_mother(s)
    father = s.link(child, s.adult(full_name="Andrii Melnyk", sex="male"), "father")
    return child, mother, father


def two_parents_disagree(s: Scene):
    child, mother, father = _child_and_parents(s)
    s.record("mother_grant", child, "parental", "granted", mother)
    s.verify("mother_grant")
    s.record("father_refusal", child, "parental", "refused", father)
    return child


def two_parents_refusing_parent_later_agrees(s: Scene):
    child, mother, father = _child_and_parents(s)
    s.record("mother_grant", child, "parental", "granted", mother)
    s.verify("mother_grant")
    s.record("father_refusal", child, "parental", "refused", father)
    s.record("father_grant", child, "parental", "granted", father)
    s.verify("father_grant")
    return child


def two_parents_refusing_parents_unverified_grant_does_not_lift_the_refusal(s: Scene):
    child, mother, father = _child_and_parents(s)
    s.record("mother_grant", child, "parental", "granted", mother)
    s.verify("mother_grant")
    s.record("father_refusal", child, "parental", "refused", father)
    s.record("father_grant", child, "parental", "granted", father)
    return child


def parents_later_grant_revoked_does_not_revive_the_earlier_grant(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("first_grant", child, "parental", "granted", mother)
    s.verify("first_grant")
    s.record("second_grant", child, "parental", "granted", mother)
    s.verify("second_grant")
    s.revoke("second_grant")
    return child


def parents_expired_refusal_does_not_revive_the_earlier_grant(s: Scene):
    child, mother = _child_and_mother(s)
    s.record(
        "grant", child, "parental", "granted", mother, given_at=utcnow() - dt.timedelta(days=20)
    )
    s.verify("grant")
    s.record("refusal", child, "parental", "refused", mother, **_expired())
    return child


def two_parents_refusal_blocks_a_pending_grant(s: Scene):
    child, mother, father = _child_and_parents(s)
    s.record("father_grant", child, "parental", "granted", father)
    s.record("mother_refusal", child, "parental", "refused", mother)
    return child


def two_parents_refusal_revoked(s: Scene):
    child, mother, father = _child_and_parents(s)
    s.record("mother_grant", child, "parental", "granted", mother)
    s.verify("mother_grant")
    s.record("father_refusal", child, "parental", "refused", father)
    s.revoke("father_refusal")
    return child


def grandparent_wants_to_leave_while_mother_refuses(s: Scene):
    child, mother = _child_and_mother(s)
    grandfather = s.adult(age=68, full_name="Mykola Melnyk", sex="male")
    grandfather_link = s.link(child, grandfather, "grandparent")
    s.record("grandfather_leaves", grandfather, "self", "granted")
    attempt = s.acts.record(s.field_worker, payload(child, "parental", "granted", grandfather_link))
    assert (attempt.status, attempt.code) == (422, "not_a_parent"), attempt.body
    s.record("mother_refusal", child, "parental", "refused", mother)
    return child


def child_with_only_a_grandparent(s: Scene):
    child = s.child()
    s.link(child, s.adult(age=70), "grandparent")
    return child


def child_who_is_missing_with_a_verified_grant(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    with s.app.app_context():
        actor = db.session.get(User, s.coordinator.id)
        persons.update_person(actor, child.id, {"status": "missing"})
        db.session.commit()
    return child


# a child with no parent: only the social services decide


def _orphan_with_legal_guardian(s: Scene):
    child = s.child(years=11)
    s.link(child, s.adult(age=52, full_name="Svitlana Bondar"), "legal_guardian")
    return child


def orphan_with_guardian_and_nothing_on_record(s: Scene):
    return _orphan_with_legal_guardian(s)


def orphan_with_guardian_authorization_pending(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("authorization", child, "social_services", "granted")
    return child


def orphan_with_guardian_authorization_verified(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("authorization", child, "social_services", "granted")
    s.verify("authorization")
    return child


def orphan_with_guardian_authority_refused(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("refusal", child, "social_services", "refused")
    return child


def orphan_authorization_rejected(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("authorization", child, "social_services", "granted")
    s.reject("authorization")
    return child


def orphan_authorization_verified_then_revoked(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("authorization", child, "social_services", "granted")
    s.verify("authorization")
    s.revoke("authorization")
    return child


def orphan_authorization_verified_but_expired(s: Scene):
    child = _orphan_with_legal_guardian(s)
    s.record("authorization", child, "social_services", "granted", **_expired())
    s.verify("authorization")
    return child


def mother_deceased(s: Scene):
    child = s.child()
    s.link(child, None, "mother", legal_status="deceased")
    return child


def father_missing(s: Scene):
    child = s.child()
    s.link(child, None, "father", legal_status="missing")
    return child


def adoptive_parent_deprived_of_rights(s: Scene):
    child = s.child()
    s.link(child, s.adult(), "adoptive_parent", legal_status="deprived_of_rights")
    return child


def parents_lost_and_authorization_verified(s: Scene):
    child = s.child()
    s.link(child, None, "mother", legal_status="deceased")
    s.link(child, None, "father", legal_status="missing")
    s.record("authorization", child, "social_services", "granted")
    s.verify("authorization")
    return child


def parent_grant_stops_counting_once_the_parent_is_recorded_deceased(s: Scene):
    child, mother = _child_and_mother(s)
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    s.set_legal_status(mother, "deceased")
    return child


def child_with_nobody(s: Scene):
    return s.child(years=4)


# a child turning 18 in ten days: asked five days before, on the day, five days after


def _eighteenth_birthday(born_on: dt.date) -> dt.date:
    try:
        return born_on.replace(year=born_on.year + 18)
    except ValueError:  # born on 29 February: 18 on 1 March
        return dt.date(born_on.year + 18, 3, 1)


def _turning_eighteen_with_verified_parental_grant(s: Scene):
    child = s.child(years=18, days=10)
    mother = s.link(child, s.adult(age=45), "mother")
    s.record("grant", child, "parental", "granted", mother)
    s.verify("grant")
    return child


def turning_eighteen_asked_before_the_birthday(s: Scene):
    child = _turning_eighteen_with_verified_parental_grant(s)
    s.at = utcnow() + dt.timedelta(days=5)
    return child


def turning_eighteen_asked_on_the_birthday(s: Scene):
    child = _turning_eighteen_with_verified_parental_grant(s)
    s.at = dt.datetime.combine(_eighteenth_birthday(child.date_of_birth), dt.time(0, 1), dt.UTC)
    return child


def turning_eighteen_asked_after_the_birthday(s: Scene):
    child = _turning_eighteen_with_verified_parental_grant(s)
    s.at = utcnow() + dt.timedelta(days=15)
    return child


CASES = [
    met(adult_granted, SELF, "self", "grant"),
    blocked(adult_refused, SELF, "refused"),
    blocked(adult_with_nothing_on_record, SELF, "consent_missing"),
    blocked(adult_later_refusal_supersedes_grant, SELF, "refused"),
    met(adult_later_grant_supersedes_refusal, SELF, "self", "grant"),
    met(adult_refusal_logged_late_but_given_earlier_does_not_supersede, SELF, "self", "grant"),
    blocked(adult_revoked_refusal_does_not_revive_the_earlier_grant, SELF, "consent_missing"),
    blocked(adult_grant_and_refusal_given_at_the_same_moment, SELF, "refused"),
    blocked(adult_revoked_grant, SELF, "consent_missing"),
    blocked(adult_expired_grant, SELF, "consent_expired"),
    blocked(adult_who_left_with_a_grant, SELF, "not_present"),
    blocked(adult_who_left_with_nothing_on_record, SELF, "not_present", "consent_missing"),
    blocked(one_parent_grant_pending_review, PARENTAL, "consent_pending_review"),
    met(one_parent_grant_verified, PARENTAL, "parental", "grant"),
    blocked(one_parent_grant_rejected, PARENTAL, "consent_missing"),
    blocked(one_parent_grant_verified_then_revoked, PARENTAL, "consent_missing"),
    blocked(one_parent_grant_verified_but_expired, PARENTAL, "consent_expired"),
    blocked(one_parent_refused, PARENTAL, "parental_refusal"),
    blocked(parent_later_refusal_supersedes_own_verified_grant, PARENTAL, "parental_refusal"),
    met(parent_later_verified_grant_supersedes_own_refusal, PARENTAL, "parental", "grant"),
    met(outside_father_grant_verified, PARENTAL, "parental", "grant"),
    met(adoptive_parent_grant_verified, PARENTAL, "parental", "grant"),
    blocked(two_parents_disagree, PARENTAL, "parental_refusal"),
    met(two_parents_refusing_parent_later_agrees, PARENTAL, "parental", "mother_grant"),
    blocked(
        two_parents_refusing_parents_unverified_grant_does_not_lift_the_refusal,
        PARENTAL,
        "parental_refusal",
    ),
    blocked(
        parents_later_grant_revoked_does_not_revive_the_earlier_grant, PARENTAL, "consent_missing"
    ),
    blocked(parents_expired_refusal_does_not_revive_the_earlier_grant, PARENTAL, "consent_missing"),
    blocked(two_parents_refusal_blocks_a_pending_grant, PARENTAL, "parental_refusal"),
    met(two_parents_refusal_revoked, PARENTAL, "parental", "mother_grant"),
    blocked(grandparent_wants_to_leave_while_mother_refuses, PARENTAL, "parental_refusal"),
    blocked(child_with_only_a_grandparent, SOCIAL, "consent_missing"),
    blocked(child_who_is_missing_with_a_verified_grant, PARENTAL, "not_present"),
    blocked(orphan_with_guardian_and_nothing_on_record, SOCIAL, "consent_missing"),
    blocked(orphan_with_guardian_authorization_pending, SOCIAL, "consent_pending_review"),
    met(orphan_with_guardian_authorization_verified, SOCIAL, "social_services", "authorization"),
    blocked(orphan_with_guardian_authority_refused, SOCIAL, "refused"),
    blocked(orphan_authorization_rejected, SOCIAL, "consent_missing"),
    blocked(orphan_authorization_verified_then_revoked, SOCIAL, "consent_missing"),
    blocked(orphan_authorization_verified_but_expired, SOCIAL, "consent_expired"),
    blocked(mother_deceased, SOCIAL, "consent_missing"),
    blocked(father_missing, SOCIAL, "consent_missing"),
    blocked(adoptive_parent_deprived_of_rights, SOCIAL, "consent_missing"),
    met(parents_lost_and_authorization_verified, SOCIAL, "social_services", "authorization"),
    blocked(
        parent_grant_stops_counting_once_the_parent_is_recorded_deceased, SOCIAL, "consent_missing"
    ),
    blocked(child_with_nobody, SOCIAL, "consent_missing"),
    met(turning_eighteen_asked_before_the_birthday, PARENTAL, "parental", "grant"),
    blocked(turning_eighteen_asked_on_the_birthday, SELF, "consent_missing"),
    blocked(turning_eighteen_asked_after_the_birthday, SELF, "consent_missing"),
]


@pytest.fixture
def acts(via, app, login, monkeypatch) -> Actions:
    return Actions(via, app, login, monkeypatch)


# every case starts from the same staff: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


@pytest.fixture(scope="module")
def social_desk(app, shared_staff):
    """A second coordinator: the one who records social-services authorizations."""
    return user_maker(app, team_maker(app))(COORDINATOR, username="socialdesk")


@pytest.fixture
def scene(
    app,
    acts,
    make_household,
    make_person,
    make_guardian,
    make_consent,
    social_desk,
    field_worker,
    coordinator,
) -> Scene:
    return Scene(
        app,
        acts,
        make_household,
        make_person,
        make_guardian,
        make_consent,
        (field_worker, coordinator, social_desk),
    )


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_eligibility_rule(case: Case, via: str, scene: Scene, acts: Actions):
    person = case.build(scene)

    answer = acts.eligibility(scene.field_worker, person, at=scene.at)

    consent_id = str(scene.records[case.consent].id) if case.consent else None
    assert answer["person_id"] == str(person.id)
    assert answer["is_child"] is (case.requirement != SELF)
    assert answer["requirement"] == case.requirement
    assert answer["eligible"] is case.eligible
    assert answer["basis"] == case.basis
    assert answer["consent_id"] == consent_id
    assert {reason["code"] for reason in answer["reasons"]} == case.reasons
    for reason in answer["reasons"]:
        assert isinstance(reason["message"], str)
        assert len(reason["message"].split()) >= 4, reason


def test_the_table_covers_every_code_the_rule_answers():
    codes = set().union(*(case.reasons for case in CASES))
    assert codes == {
        "not_present",
        "consent_missing",
        "consent_pending_review",
        "consent_expired",
        "refused",
        "parental_refusal",
    }
    assert {case.requirement for case in CASES} == {SELF, PARENTAL, SOCIAL}
