"""The evacuation rules straight through app.evacuations.service.

Each operation runs in an app context of its own and commits like a request would (the
service only flushes); a refused operation is rolled back, as the request boundary does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from app.auth import service as auth_service
from app.auth.models import User
from app.consents import service as consent_service
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.evacuations import service
from app.evacuations.models import Evacuation, EvacuationMember
from app.extensions import db
from app.households import persons
from app.households.models import Household, Person
from tests.conftest import staff_shared_by_the_module

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


def run(app, user, operation: Callable, evacuation=None):
    """``operation(actor)`` or ``operation(actor, evacuation_id)``, committed."""
    with app.app_context():
        actor = db.session.get(User, user.id)
        try:
            result = operation(actor) if evacuation is None else operation(actor, evacuation.id)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise


def stored(app, evacuation) -> dict:
    """What is stored: the evacuation's status, version and members, read afresh."""
    with app.app_context():
        row = db.session.get(Evacuation, evacuation.id)
        members = db.session.scalars(
            sa.select(EvacuationMember).where(EvacuationMember.evacuation_id == evacuation.id)
        ).all()
        return {
            "status": row.status,
            "version": row.version,
            "departed_at": row.departed_at,
            "members": {m.person_id: m for m in members},
        }


def add(app, coordinator, evacuation, person, **fields) -> EvacuationMember:
    """Add ``person``; the member as the answer (the evacuation) lists them."""
    data = {"person_id": person.id}
    data.update({k: getattr(v, "id", v) for k, v in fields.items()})
    answer = run(app, coordinator, lambda a, e: service.add_member(a, e, data), evacuation)
    return next(m for m in answer.members if m.person_id == person.id)


def codes(error: Conflict) -> list[tuple[str, uuid.UUID]]:
    return sorted((reason["code"], reason["person_id"]) for reason in error.reasons)


def revoke(app, user, record) -> None:
    run(app, user, lambda a: consent_service.revoke_consent(a, record.id, "Changed her mind."))


# --- who may --------------------------------------------------------------------------------


def test_only_a_coordinator_plans_and_runs_an_evacuation(
    app, field_worker, admin, coordinator, team, evacuation, eligible_adult
):
    adult = eligible_adult()
    data = {
        "team_id": team.id,
        "planned_departure": evacuation.planned_departure,
        "mode": "vehicle",
        "meeting_point": "Bus station",
    }

    for user in (field_worker, admin):
        with pytest.raises(Forbidden):
            run(app, user, lambda a: service.plan_evacuation(a, data))
    with pytest.raises(Forbidden):
        run(
            app,
            field_worker,
            lambda a, e: service.add_member(a, e, {"person_id": adult.id}),
            evacuation,
        )
    for step in (service.depart, service.arrive, service.cancel):
        with pytest.raises(Forbidden):
            run(app, field_worker, step, evacuation)
    assert stored(app, evacuation)["status"] == "planned"
    assert stored(app, evacuation)["members"] == {}


def test_a_field_worker_sees_their_teams_evacuations_and_an_admin_none(
    app, field_worker, admin, coordinator, make_evacuation, team, other_team
):
    ours = make_evacuation(team)
    theirs = make_evacuation(other_team)

    def listed(user) -> set[uuid.UUID]:
        return {
            e.id
            for e in run(
                app, user, lambda a: service.load_evacuations(service.evacuations_query(a))
            )
        }

    assert listed(field_worker) == {ours.id}
    assert listed(coordinator) == {ours.id, theirs.id}
    assert listed(admin) == set()
    assert run(app, field_worker, lambda a: service.get_evacuation(a, ours.id)).id == ours.id
    with pytest.raises(NotFound):
        run(app, field_worker, lambda a: service.get_evacuation(a, theirs.id))
    with pytest.raises(NotFound):
        run(app, admin, lambda a: service.get_evacuation(a, ours.id))


# --- adding members -------------------------------------------------------------------------


def test_add_member_refuses_with_every_reason(app, coordinator, evacuation, make_person, household):
    gone = make_person(household, age=44, status="left")

    with pytest.raises(Conflict) as caught:
        add(app, coordinator, evacuation, gone)

    assert codes(caught.value) == [("consent_missing", gone.id), ("not_present", gone.id)]
    assert stored(app, evacuation)["members"] == {}


def test_add_member_keeps_the_consent_that_made_the_person_eligible(
    app, coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother)

    add(app, coordinator, evacuation, mother)
    add(app, coordinator, evacuation, child.person, accompanied_by_person_id=mother)

    members = stored(app, evacuation)["members"]
    assert members[child.person.id].consent_id == child.consent.id
    assert members[child.person.id].accompanied_by_person_id == mother.id
    assert members[child.person.id].added_by == coordinator.id
    assert members[mother.id].consent_id is not None


def test_a_child_alone_is_refused_as_unaccompanied(
    app, coordinator, evacuation, eligible_adult, child_of
):
    child = child_of(eligible_adult())

    with pytest.raises(Conflict) as caught:
        add(app, coordinator, evacuation, child.person)

    assert caught.value.code == "unaccompanied_child"
    assert codes(caught.value) == [("unaccompanied_child", child.person.id)]


def test_a_child_with_a_staff_escort_joins(
    app, coordinator, field_worker, evacuation, eligible_adult, child_of
):
    child = child_of(eligible_adult())

    member = add(app, coordinator, evacuation, child.person, escort_user_id=field_worker)

    assert member.escort_user_id == field_worker.id
    assert set(stored(app, evacuation)["members"]) == {child.person.id}


def test_a_person_joins_one_active_evacuation_at_a_time(
    app, coordinator, make_evacuation, team, eligible_adult
):
    first, second = make_evacuation(team), make_evacuation(team)
    adult = eligible_adult()
    add(app, coordinator, first, adult)

    with pytest.raises(Conflict) as elsewhere:
        add(app, coordinator, second, adult)
    with pytest.raises(Conflict) as twice:
        add(app, coordinator, first, adult)

    assert elsewhere.value.code == "already_in_evacuation"
    assert twice.value.status == 409
    assert stored(app, second)["members"] == {}


def test_an_unknown_person_is_invalid(app, coordinator, evacuation):
    with pytest.raises(Invalid) as caught:
        add(app, coordinator, evacuation, Person(id=uuid.uuid4()))

    assert "person_id" in caught.value.errors


# --- removing members -----------------------------------------------------------------------


def test_remove_member_keeps_a_child_with_their_companion(
    app, coordinator, evacuation, eligible_adult, child_of
):
    mother = eligible_adult()
    child = child_of(mother)
    add(app, coordinator, evacuation, mother)
    add(app, coordinator, evacuation, child.person, accompanied_by_person_id=mother)

    with pytest.raises(Conflict) as caught:
        run(app, coordinator, lambda a, e: service.remove_member(a, e, mother.id), evacuation)
    assert codes(caught.value) == [("unaccompanied_child", child.person.id)]
    assert set(stored(app, evacuation)["members"]) == {mother.id, child.person.id}

    run(app, coordinator, lambda a, e: service.remove_member(a, e, child.person.id), evacuation)
    run(app, coordinator, lambda a, e: service.remove_member(a, e, mother.id), evacuation)
    assert stored(app, evacuation)["members"] == {}
    with pytest.raises(NotFound):
        run(app, coordinator, lambda a, e: service.remove_member(a, e, mother.id), evacuation)


# --- departure ------------------------------------------------------------------------------


@pytest.fixture
def aboard(app, coordinator, evacuation, eligible_adult, child_of):
    """A mother, her child with her, and an uncle: all members of the planned evacuation."""
    mother = eligible_adult(full_name="Olena")
    child = child_of(mother)
    uncle = eligible_adult(full_name="Petro")
    add(app, coordinator, evacuation, mother)
    add(app, coordinator, evacuation, child.person, accompanied_by_person_id=mother)
    add(app, coordinator, evacuation, uncle)
    return mother, child, uncle


def test_depart_refuses_with_every_blocked_person_and_changes_nothing(
    app, coordinator, field_worker, evacuation, aboard, make_consent
):
    mother, child, uncle = aboard
    revoke(app, field_worker, child.consent)
    make_consent(field_worker, uncle, "self", "refused")
    before = stored(app, evacuation)

    with pytest.raises(Conflict) as caught:
        run(app, coordinator, service.depart, evacuation)

    assert codes(caught.value) == sorted(
        [("consent_missing", child.person.id), ("refused", uncle.id)]
    )
    after = stored(app, evacuation)
    assert after["status"] == "planned"
    assert after["departed_at"] is None
    assert after["version"] == before["version"]
    assert set(after["members"]) == {mother.id, child.person.id, uncle.id}


def test_depart_refuses_a_member_no_longer_present(app, coordinator, evacuation, aboard):
    _mother, _child, uncle = aboard

    def mark_missing(actor):
        persons.update_person(actor, uncle.id, {"status": "missing"})

    run(app, coordinator, mark_missing)

    with pytest.raises(Conflict) as caught:
        run(app, coordinator, service.depart, evacuation)

    assert codes(caught.value) == [("not_present", uncle.id)]
    assert stored(app, evacuation)["status"] == "planned"


def test_depart_refuses_a_child_whose_escort_left_the_service(
    app, coordinator, admin, make_user, team, evacuation, eligible_adult, child_of
):
    escort = make_user(team=team)
    child = child_of(eligible_adult())
    add(app, coordinator, evacuation, child.person, escort_user_id=escort)

    def deactivate(actor):
        auth_service.update_user(actor, escort.id, {"is_active": False})

    run(app, admin, deactivate)

    with pytest.raises(Conflict) as caught:
        run(app, coordinator, service.depart, evacuation)

    assert codes(caught.value) == [("unaccompanied_child", child.person.id)]


def test_depart_then_arrive(app, coordinator, evacuation, aboard, household):
    mother, child, uncle = aboard

    departed = run(app, coordinator, service.depart, evacuation)
    assert departed.status == "departed"
    assert departed.departed_at is not None
    arrived = run(app, coordinator, service.arrive, evacuation)

    assert arrived.status == "arrived"
    assert arrived.arrived_at >= departed.departed_at
    with app.app_context():
        people = {p.id: p.status for p in db.session.scalars(sa.select(Person))}
        assert people == {
            mother.id: "evacuated",
            child.person.id: "evacuated",
            uncle.id: "evacuated",
        }
        assert db.session.get(Household, household.id).status == "evacuated"


def test_the_wrong_step_is_an_invalid_transition(app, coordinator, evacuation, aboard):
    with pytest.raises(Conflict) as early:
        run(app, coordinator, service.arrive, evacuation)
    run(app, coordinator, service.depart, evacuation)
    with pytest.raises(Conflict) as twice:
        run(app, coordinator, service.depart, evacuation)
    with pytest.raises(Conflict) as late:
        run(app, coordinator, service.cancel, evacuation)

    assert [e.value.code for e in (early, twice, late)] == ["invalid_transition"] * 3
    assert stored(app, evacuation)["status"] == "departed"


def test_cancel_a_planned_evacuation(app, coordinator, evacuation, aboard):
    cancelled = run(app, coordinator, service.cancel, evacuation)

    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None
    with pytest.raises(Conflict) as caught:
        run(app, coordinator, service.depart, evacuation)
    assert caught.value.code == "invalid_transition"
