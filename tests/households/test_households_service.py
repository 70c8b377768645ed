"""The household rules straight through app.households.service, and the age arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.households import guardianships, persons, scope, service
from app.households.models import Person, age_on, today, years_before
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)


@pytest.fixture
def ctx(app):
    """An app context whose session is discarded afterwards (services only flush)."""
    with app.app_context():
        yield
        db.session.rollback()


def actor(user) -> User:
    return db.session.get(User, user.id)


# --- scope ---------------------------------------------------------------------------------


def test_field_worker_gets_own_household_only(
    ctx, field_worker, coordinator, household, foreign_household
):
    me = actor(field_worker)
    stranger = persons.add_member(
        actor(coordinator), foreign_household.id, {"full_name": "X", "estimated_age": 30}
    )

    assert scope.get_household(me, household.id).id == household.id
    with pytest.raises(NotFound):
        scope.get_household(me, foreign_household.id)
    with pytest.raises(NotFound):
        scope.get_person(me, stranger.id)


def test_coordinator_gets_every_household_and_admin_none(
    ctx, coordinator, admin, household, foreign_household
):
    assert scope.get_household(actor(coordinator), foreign_household.id).id == (
        foreign_household.id
    )
    with pytest.raises(NotFound):
        scope.get_household(actor(admin), household.id)


def test_list_query_is_scoped(ctx, field_worker, coordinator, household, foreign_household):
    def listed(user, **filters):
        stmt = service.list_households_query(actor(user), **filters)
        return {h.id for h in service.households_with_counts(stmt)}

    assert listed(field_worker) == {household.id}
    assert listed(coordinator) == {household.id, foreign_household.id}
    assert listed(coordinator, team_id=foreign_household.team_id) == {foreign_household.id}
    assert listed(field_worker, q="southgate") == set()
    assert listed(coordinator, q="SOUTHGATE") == {foreign_household.id}


# --- households ----------------------------------------------------------------------------


def test_field_worker_creates_in_own_team_only(ctx, field_worker, team, other_team):
    me = actor(field_worker)

    created = service.create_household(me, {"locality": "Riverside"})
    assert created.team_id == team.id
    assert created.status == "identified"
    assert (created.member_count, created.child_count) == (0, 0)
    with pytest.raises(Invalid) as refused:
        service.create_household(me, {"locality": "Riverside", "team_id": other_team.id})
    assert "team_id" in refused.value.errors


def test_only_a_coordinator_reassigns(ctx, field_worker, coordinator, household, other_team):
    with pytest.raises(Invalid):
        service.update_household(actor(field_worker), household.id, {"team_id": other_team.id})

    moved = service.update_household(actor(coordinator), household.id, {"team_id": other_team.id})
    assert moved.team_id == other_team.id
    assert moved.version == 2


def test_status_and_ref_are_not_editable(ctx, coordinator, household):
    found = service.update_household(
        actor(coordinator), household.id, {"status": "closed", "ref": "AAA-AAA"}
    )

    assert (found.status, found.ref) == ("identified", household.ref)


def test_duplicate_household_id_conflicts(ctx, coordinator, household):
    with pytest.raises(Conflict):
        service.create_household(actor(coordinator), {"id": household.id, "locality": "X"})


def test_counts_only_present_members(ctx, coordinator, household):
    me = actor(coordinator)
    for fields in (
        {"estimated_age": 40},
        {"date_of_birth": born(18)},
        {"date_of_birth": born(18, days=1)},
        {"estimated_age": 5, "status": "left"},
        {"estimated_age": 6, "status": "missing"},
    ):
        persons.add_member(me, household.id, {"full_name": "Member", **fields})

    loaded = service.load_counts(scope.get_household(me, household.id))

    assert (loaded.member_count, loaded.child_count) == (3, 1)


# --- persons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field",
    [
        ({}, "date_of_birth"),
        ({"date_of_birth": dt.date(2019, 5, 1), "estimated_age": 7}, "estimated_age"),
        ({"date_of_birth": "tomorrow"}, "date_of_birth"),
        ({"estimated_age": 30, "status": "evacuated"}, "status"),
    ],
)
def test_add_member_refuses_bad_birth_data_and_status(ctx, coordinator, household, fields, field):
    if fields.get("date_of_birth") == "tomorrow":
        fields = {"date_of_birth": today() + dt.timedelta(days=1)}
    with pytest.raises(Invalid) as refused:
        persons.add_member(actor(coordinator), household.id, {"full_name": "X", **fields})
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 0


def test_estimated_age_becomes_an_estimated_birth_date(ctx, coordinator, household):
    person = persons.add_member(
        actor(coordinator), household.id, {"full_name": "X", "estimated_age": 7}
    )

    assert person.dob_estimated is True
    assert person.age == 7
    assert person.is_child is True


def test_evacuated_person_keeps_that_status(ctx, coordinator, household):
    me = actor(coordinator)
    person = persons.add_member(me, household.id, {"full_name": "X", "estimated_age": 30})
    person.status = "evacuated"  # only an evacuation's arrival does this

    with pytest.raises(Conflict):
        persons.update_person(me, person.id, {"status": "present"})
    assert persons.update_person(me, person.id, {"medical_notes": "ok"}).status == "evacuated"


def test_guardian_cannot_be_made_a_child(ctx, coordinator, household):
    me = actor(coordinator)
    mother = persons.add_member(me, household.id, {"full_name": "M", "estimated_age": 20})
    child = persons.add_member(me, household.id, {"full_name": "C", "estimated_age": 2})
    guardianships.add_guardian(
        me, child.id, {"guardian_person_id": mother.id, "relationship": "mother"}
    )

    with pytest.raises(Invalid) as refused:
        persons.update_person(me, mother.id, {"date_of_birth": born(17)})
    assert "date_of_birth" in refused.value.errors


# --- guardianships -------------------------------------------------------------------------


@pytest.fixture
def kids(ctx, coordinator, household):
    me = actor(coordinator)

    def add(name, **fields):
        return persons.add_member(me, household.id, {"full_name": name, **fields})

    return {
        "child": add("Child", date_of_birth=born(9)),
        "teen": add("Teen", date_of_birth=born(18, days=1)),
        "adult": add("Adult", date_of_birth=born(18)),
    }


def test_add_guardian_refuses_a_child_guardian(coordinator, kids):
    with pytest.raises(Invalid) as refused:
        guardianships.add_guardian(
            actor(coordinator),
            kids["child"].id,
            {"guardian_person_id": kids["teen"].id, "relationship": "sibling"},
        )
    assert "guardian_person_id" in refused.value.errors


def test_add_guardian_refuses_own_guardian_and_adult_subject(coordinator, kids):
    me = actor(coordinator)
    with pytest.raises(Invalid):
        guardianships.add_guardian(
            me, kids["child"].id, {"guardian_person_id": kids["child"].id, "relationship": "other"}
        )
    with pytest.raises(Invalid) as adult:
        guardianships.add_guardian(
            me, kids["adult"].id, {"external_name": "M", "relationship": "mother"}
        )
    assert "child_id" in adult.value.errors


def test_add_guardian_needs_exactly_one_guardian(coordinator, kids):
    me = actor(coordinator)
    for data in (
        {"relationship": "mother"},
        {"relationship": "mother", "external_name": "M", "guardian_person_id": kids["adult"].id},
    ):
        with pytest.raises(Invalid):
            guardianships.add_guardian(me, kids["child"].id, data)


def test_add_guardian_and_duplicate(coordinator, kids):
    me = actor(coordinator)
    data = {"guardian_person_id": kids["adult"].id, "relationship": "legal_guardian"}

    link = guardianships.add_guardian(me, kids["child"].id, data)
    assert (link.is_parent, link.legal_status) == (False, "active")
    with pytest.raises(Conflict):
        guardianships.add_guardian(me, kids["child"].id, data)


def test_field_worker_cannot_link_another_teams_person(
    ctx, field_worker, coordinator, household, foreign_household
):
    me = actor(coordinator)
    child = persons.add_member(me, household.id, {"full_name": "C", "date_of_birth": born(4)})
    stranger = persons.add_member(me, foreign_household.id, {"full_name": "S", "estimated_age": 40})

    with pytest.raises(Invalid):
        guardianships.add_guardian(
            actor(field_worker),
            child.id,
            {"guardian_person_id": stranger.id, "relationship": "other"},
        )


def test_update_guardianship_is_parent_follows_legal_status(coordinator, kids):
    me = actor(coordinator)
    link = guardianships.add_guardian(
        me, kids["child"].id, {"external_name": "M", "relationship": "mother"}
    )
    assert link.is_parent is True

    guardianships.update_guardianship(me, link.id, {"legal_status": "deprived_of_rights"})

    assert link.is_parent is False


def test_get_guardianship_is_scoped(ctx, field_worker, coordinator, foreign_household):
    me = actor(coordinator)
    child = persons.add_member(me, foreign_household.id, {"full_name": "C", "estimated_age": 3})
    link = guardianships.add_guardian(
        me, child.id, {"external_name": "M", "relationship": "mother"}
    )

    assert guardianships.get_guardianship(me, link.id).id == link.id
    with pytest.raises(NotFound):
        guardianships.get_guardianship(actor(field_worker), link.id)


# --- age arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "birth, day, age, is_child",
    [
        (dt.date(2008, 3, 15), dt.date(2026, 3, 14), 17, True),
        (dt.date(2008, 3, 15), dt.date(2026, 3, 15), 18, False),
        (dt.date(2008, 3, 15), dt.date(2008, 3, 15), 0, True),
        (dt.date(2008, 12, 31), dt.date(2027, 1, 1), 18, False),
        # born on 29 February: a year older on 1 March in common years, on the 29th in leap
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17, True),
        (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18, False),
        (dt.date(2008, 2, 29), dt.date(2028, 2, 28), 19, False),
        (dt.date(2008, 2, 29), dt.date(2028, 2, 29), 20, False),
        (dt.date(2012, 2, 29), dt.date(2030, 2, 28), 17, True),
        (dt.date(2012, 2, 29), dt.date(2030, 3, 1), 18, False),
    ],
)
def test_age_on_a_given_day(birth, day, age, is_child):
    person = Person(date_of_birth=birth)

    assert age_on(birth, day) == age
    assert person.age_on(day) == age
    assert person.is_child_on(day) is is_child


def test_elderly_from_sixty():
    assert Person(date_of_birth=born(60)).is_elderly is True
    assert Person(date_of_birth=born(60, days=1)).is_elderly is False


@pytest.mark.parametrize(
    "day, years, expected",
    [
        (dt.date(2025, 6, 1), 18, dt.date(2007, 6, 1)),
        (dt.date(2024, 2, 29), 4, dt.date(2020, 2, 29)),
        (dt.date(2024, 2, 29), 1, dt.date(2023, 2, 28)),
        (dt.date(2024, 2, 29), 18, dt.date(2006, 2, 28)),
        (dt.date(2025, 3, 1), 1, dt.date(2024, 3, 1)),
        (dt.date(2025, 1, 1), 0, dt.date(2025, 1, 1)),
    ],
)
def test_years_before(day, years, expected):
    assert years_before(day, years) == expected


def test_years_before_agrees_with_age_on():
    """Whoever was born on years_before(day, n) is n years old that day, never n - 1."""
    start = dt.date(2023, 12, 1)
    for offset in range(500):  # spans 29 February 2024
        day = start + dt.timedelta(days=offset)
        assert age_on(years_before(day, 18), day) == 18
        assert age_on(years_before(day, 18) + dt.timedelta(days=1), day) == 17


def test_child_count_agrees_with_is_child_on_29_february(ctx, coordinator, household, monkeypatch):
    """The SQL child count uses the same cut-off as Person.is_child on a leap day."""
    me = actor(coordinator)
    leap_day = dt.date(2024, 2, 29)
    births = [dt.date(2006, 2, 28), dt.date(2006, 3, 1), dt.date(2006, 2, 27)]
    for birth in births:
        persons.add_member(me, household.id, {"full_name": "P", "date_of_birth": birth})
    monkeypatch.setattr(service, "today", lambda: leap_day)

    loaded = service.load_counts(scope.get_household(me, household.id))

    expected = sum(Person(date_of_birth=b).is_child_on(leap_day) for b in births)
    assert expected == 1
    assert loaded.child_count == expected
