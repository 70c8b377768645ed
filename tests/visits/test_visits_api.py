"""Visits through the HTTP API (and the out-of-order rule once through the service).

A visit is logged with the device's clock, often hours later; the household's last visit,
next visit due and status follow, and never move backwards when an older visit arrives late.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.extensions import db
from app.households.models import Household, today
from app.visits import service as visit_service
from app.visits.models import Visit
from tests.conftest import staff_shared_by_the_module
from tests.households.helpers import born, etag

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

KYIV = dt.timezone(dt.timedelta(hours=3))


def visits_url(household) -> str:
    return f"/api/v1/households/{household.id}/visits"


def household_url(household) -> str:
    return f"/api/v1/households/{household.id}"


def hours_ago(hours: float) -> dt.datetime:
    """A device time ``hours`` ago, as a Kyiv-time clock shows it."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).astimezone(KYIV)


def in_days(days: int) -> dt.date:
    return today() + dt.timedelta(days=days)


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def visit_body(visited_at: dt.datetime, outcome: str = "talked", **fields) -> dict:
    return {"visited_at": visited_at.isoformat(), "outcome": outcome, **fields}


def stored_visit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Visit))


@pytest.fixture
def household(make_household, team):
    return make_household(team=team, locality="Riverside")


@pytest.fixture
def family(household, make_person):
    return SimpleNamespace(
        mother=make_person(household, full_name="Olena", age=34, sex="female"),
        child=make_person(household, full_name="Dmytro", date_of_birth=born(8)),
        grandfather=make_person(household, full_name="Petro", age=71, sex="male"),
    )


# --- logging a visit -----------------------------------------------------------------------


def test_a_visit_logged_hours_later_is_stored_as_told(
    as_field_worker, field_worker, household, family
):
    visited_at = hours_ago(5)
    body = visit_body(
        visited_at,
        "talked",
        stances=[
            {"person_id": str(family.grandfather.id), "stance": "wants_to_leave", "note": "Ready"},
            {"person_id": str(family.mother.id), "stance": "wants_to_stay", "note": None},
        ],
        concerns=["fear_of_separation", "no_money"],
        safety="shelling",
        way_out="on_foot_only",
        next_visit_on=in_days(3).isoformat(),
        notes="Basement, door on the left.",
    )

    response = as_field_worker.post(visits_url(household), json=body)

    assert response.status_code == 201, response.get_json()
    visit = response.get_json()
    assert visit["household_id"] == str(household.id)
    assert parse(visit["visited_at"]) == visited_at
    assert parse(visit["visited_at"]).utcoffset() == dt.timedelta(0)  # answered in UTC
    assert visit["recorded_by"] == str(field_worker.id)
    assert visit["outcome"] == "talked"
    assert visit["stances"] == [
        {"person_id": str(family.grandfather.id), "stance": "wants_to_leave", "note": "Ready"},
        {"person_id": str(family.mother.id), "stance": "wants_to_stay", "note": None},
    ]
    assert sorted(visit["concerns"]) == ["fear_of_separation", "no_money"]
    assert visit["safety"] == "shelling"
    assert visit["way_out"] == "on_foot_only"
    assert visit["next_visit_on"] == in_days(3).isoformat()
    assert visit["notes"] == "Basement, door on the left."

    listed = as_field_worker.get(visits_url(household)).get_json()["items"]
    assert [item["id"] for item in listed] == [visit["id"]]
    assert listed[0]["stances"] == visit["stances"]

    after = as_field_worker.get(household_url(household)).get_json()
    assert parse(after["last_visit_at"]) == visited_at
    assert after["next_visit_due"] == in_days(3).isoformat()
    assert after["status"] == "engaging"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("talked", "engaging"),
        ("declined", "engaging"),
        ("agreed", "engaging"),
        ("consent_collected", "engaging"),
        ("postponed", "engaging"),
        ("no_contact", "identified"),
        ("unsafe_to_approach", "identified"),
    ],
)
def test_a_conversation_moves_the_household_to_engaging(
    as_field_worker, household, outcome, status
):
    response = as_field_worker.post(visits_url(household), json=visit_body(hours_ago(1), outcome))

    assert response.status_code == 201, response.get_json()
    after = as_field_worker.get(household_url(household)).get_json()
    assert after["status"] == status
    assert after["last_visit_at"] is not None


def test_an_older_visit_logged_later_does_not_move_the_household_back(as_field_worker, household):
    recent = hours_ago(2)
    assert (
        as_field_worker.post(
            visits_url(household),
            json=visit_body(recent, next_visit_on=in_days(4).isoformat()),
        ).status_code
        == 201
    )

    # yesterday's visit, logged offline, reaches the server now
    late = as_field_worker.post(
        visits_url(household),
        json=visit_body(hours_ago(30), "no_contact", next_visit_on=in_days(1).isoformat()),
    )

    assert late.status_code == 201, late.get_json()
    after = as_field_worker.get(household_url(household)).get_json()
    assert parse(after["last_visit_at"]) == recent
    assert after["next_visit_due"] == in_days(4).isoformat()
    listed = as_field_worker.get(visits_url(household)).get_json()["items"]
    assert [item["outcome"] for item in listed] == ["talked", "no_contact"]


def test_log_visit_keeps_the_latest_visit_through_the_service(app, field_worker, household):
    with app.app_context():
        actor = db.session.get(User, field_worker.id)
        recent, older = hours_ago(3), hours_ago(48)
        visit_service.log_visit(
            actor,
            household.id,
            {"visited_at": recent, "outcome": "talked", "next_visit_on": in_days(5)},
        )
        visit_service.log_visit(
            actor,
            household.id,
            {"visited_at": older, "outcome": "declined", "next_visit_on": in_days(1)},
        )
        db.session.commit()

    with app.app_context():
        stored = db.session.get(Household, household.id)
        assert stored.last_visit_at == recent
        assert stored.next_visit_due == in_days(5)
        assert stored.status == "engaging"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 2


def test_the_household_version_bumps_after_a_visit(as_field_worker, household):
    before = as_field_worker.get(household_url(household))

    logged = as_field_worker.post(visits_url(household), json=visit_body(hours_ago(1)))

    assert logged.status_code == 201
    after = as_field_worker.get(household_url(household))
    assert after.get_json()["version"] == before.get_json()["version"] + 1
    assert etag(after) != etag(before)
    stale = as_field_worker.patch(
        household_url(household), json={"notes": "edited"}, headers={"If-Match": etag(before)}
    )
    assert stale.status_code == 412


# --- refused visits ------------------------------------------------------------------------


def assert_nothing_changed(app, client, household, before: dict) -> None:
    assert stored_visit_count(app) == 0
    assert client.get(household_url(household)).get_json() == before


def test_a_stance_of_someone_from_another_household_is_422(
    app, as_field_worker, household, family, make_household, make_person
):
    neighbour = make_person(make_household(locality="Next door"), full_name="Neighbour")
    before = as_field_worker.get(household_url(household)).get_json()

    response = as_field_worker.post(
        visits_url(household),
        json=visit_body(
            hours_ago(1),
            stances=[
                {"person_id": str(family.mother.id), "stance": "undecided"},
                {"person_id": str(neighbour.id), "stance": "wants_to_leave"},
            ],
        ),
    )

    assert response.status_code == 422
    assert "1" in response.get_json()["errors"]["stances"]
    assert "0" not in response.get_json()["errors"]["stances"]
    assert_nothing_changed(app, as_field_worker, household, before)


def test_the_same_person_twice_is_422(app, as_field_worker, household, family):
    before = as_field_worker.get(household_url(household)).get_json()
    stance = {"person_id": str(family.mother.id), "stance": "undecided"}

    response = as_field_worker.post(
        visits_url(household),
        json=visit_body(hours_ago(1), stances=[stance, {**stance, "stance": "wants_to_stay"}]),
    )

    assert response.status_code == 422
    assert "stances" in response.get_json()["errors"]
    assert_nothing_changed(app, as_field_worker, household, before)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"visited_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()},
            "visited_at",
        ),
        ({"visited_at": "2024-05-01T10:00:00"}, "visited_at"),
        ({"next_visit_on": (today() - dt.timedelta(days=2)).isoformat()}, "next_visit_on"),
        ({"outcome": "kidnapped"}, "outcome"),
        ({"stances": [{"person_id": "not-a-uuid", "stance": "undecided"}]}, "stances"),
        ({"recorded_by": "00000000-0000-0000-0000-000000000000"}, "recorded_by"),
    ],
    ids=["future", "naive", "next-before-visit", "outcome", "stance-id", "unknown-field"],
)
def test_invalid_visits_are_422(app, as_field_worker, household, fields, field):
    before = as_field_worker.get(household_url(household)).get_json()

    response = as_field_worker.post(
        visits_url(household), json={**visit_body(hours_ago(1)), **fields}
    )

    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert_nothing_changed(app, as_field_worker, household, before)


def test_the_next_visit_is_checked_against_the_devices_day(as_field_worker, household):
    """01:30 in Kyiv is still the day before in UTC: the team's calendar day counts."""
    day = today() - dt.timedelta(days=2)
    visited_at = dt.datetime.combine(day, dt.time(1, 30), KYIV).isoformat()

    before = as_field_worker.post(
        visits_url(household),
        json={
            "visited_at": visited_at,
            "outcome": "talked",
            "next_visit_on": str(day - dt.timedelta(days=1)),
        },
    )
    same_day = as_field_worker.post(
        visits_url(household),
        json={"visited_at": visited_at, "outcome": "talked", "next_visit_on": str(day)},
    )

    assert before.status_code == 422
    assert "next_visit_on" in before.get_json()["errors"]
    assert same_day.status_code == 201


def test_another_teams_household_is_404(app, as_other_field_worker, as_field_worker, household):
    assert (
        as_field_worker.post(visits_url(household), json=visit_body(hours_ago(1))).status_code
        == 201
    )

    assert (
        as_other_field_worker.post(visits_url(household), json=visit_body(hours_ago(1))).status_code
        == 404
    )
    assert as_other_field_worker.get(visits_url(household)).status_code == 404
    assert stored_visit_count(app) == 1


def test_an_admin_may_not_read_or_log_visits(app, as_admin, household):
    assert as_admin.post(visits_url(household), json=visit_body(hours_ago(1))).status_code == 403
    assert as_admin.get(visits_url(household)).status_code == 403
    assert stored_visit_count(app) == 0


def test_a_coordinator_logs_a_visit_to_any_household(as_coordinator, coordinator, household):
    response = as_coordinator.post(visits_url(household), json=visit_body(hours_ago(1)))

    assert response.status_code == 201
    assert response.get_json()["recorded_by"] == str(coordinator.id)


# --- listing and retries -------------------------------------------------------------------


def test_visits_are_listed_newest_first_one_page_at_a_time(as_field_worker, household):
    for hours, outcome in ((10, "no_contact"), (1, "agreed"), (5, "talked")):
        response = as_field_worker.post(
            visits_url(household), json=visit_body(hours_ago(hours), outcome)
        )
        assert response.status_code == 201

    first = as_field_worker.get(f"{visits_url(household)}?limit=2").get_json()
    second = as_field_worker.get(
        f"{visits_url(household)}?limit=2&cursor={first['next_cursor']}"
    ).get_json()

    assert [v["outcome"] for v in first["items"]] == ["agreed", "talked"]
    assert [v["outcome"] for v in second["items"]] == ["no_contact"]
    assert second["next_cursor"] is None


def test_a_retried_visit_is_logged_once(app, as_field_worker, household):
    body = visit_body(hours_ago(2), notes="sent twice over a bad link")
    headers = {"Idempotency-Key": "visit-retry-1"}

    first = as_field_worker.post(visits_url(household), json=body, headers=headers)
    retry = as_field_worker.post(visits_url(household), json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert stored_visit_count(app) == 1
    reused = as_field_worker.post(
        visits_url(household), json={**body, "notes": "different"}, headers=headers
    )
    assert reused.status_code == 422
    assert stored_visit_count(app) == 1


# --- overdue households --------------------------------------------------------------------


def test_overdue_households_are_listed_urgent_first_then_oldest_due(
    as_field_worker, as_coordinator, make_household, other_team
):
    def household_due(days: int | None, priority: str = "normal", team=None):
        kwargs = {"team": team} if team is not None else {}
        household = make_household(priority=priority, **kwargs)
        if days is not None:
            response = as_coordinator.post(
                visits_url(household),
                json=visit_body(hours_ago(24 * 20), next_visit_on=in_days(days).isoformat()),
            )
            assert response.status_code == 201
        return household

    normal_3 = household_due(-3)
    urgent_1 = household_due(-1, "urgent")
    normal_5 = household_due(-5)
    high_10 = household_due(-10, "high")
    household_due(1, "urgent")  # due tomorrow: not overdue
    household_due(None, "urgent")  # no visit planned
    household_due(-7, "urgent", team=other_team)  # another team's

    seen, cursor = [], None
    for _ in range(6):
        url = "/api/v1/households?visit_overdue=true&limit=1"
        page = as_field_worker.get(f"{url}&cursor={cursor}" if cursor else url).get_json()
        assert len(page["items"]) <= 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(h.id) for h in (urgent_1, high_10, normal_5, normal_3)]
    everyone = as_coordinator.get("/api/v1/households?visit_overdue=true").get_json()
    assert len(everyone["items"]) == 5
    assert everyone["items"][0]["priority"] == "urgent"
    assert everyone["items"][0]["next_visit_due"] == in_days(-7).isoformat()
