"""``GET /api/v1/reports/summary``: the coordinators' picture of the work, by aggregates."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.consents.models import ConsentRecord
from app.db import utcnow
from app.extensions import db
from app.households.models import Household, Person, today
from app.housing.models import HousingOffer
from tests.conftest import staff_shared_by_the_module

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

URL = "/api/v1/reports/summary"


def _set(app, model, ids, **values) -> None:
    """Change stored rows directly, as time passing (or another process) would."""
    with app.app_context():
        db.session.execute(sa.update(model).where(model.id.in_(ids)).values(**values))
        db.session.commit()


@pytest.fixture
def children(
    app,
    as_coordinator,
    field_worker,
    make_household,
    make_person,
    make_guardian,
    make_consent,
    team,
):
    """``children()`` adds one household with a child in each eligibility state; returns
    the ids of the pending and the revoked grants."""

    def make() -> dict:
        household = make_household(team=team)
        mother = make_person(household, age=35, sex="female")
        kids = {
            name: make_person(household, age=6)
            for name in (
                "eligible",
                "missing",
                "refused",
                "expired_since",
                "expired",
                "pending",
                "revoked",
                "orphan",
                "evacuated",
            )
        }
        links = {
            name: make_guardian(child, mother, "mother")
            for name, child in kids.items()
            if name != "orphan"
        }

        def grant(name: str, **fields):
            return make_consent(
                field_worker, kids[name], "parental", "granted", guardianship=links[name], **fields
            )

        def verify(record) -> None:
            response = as_coordinator.post(f"/api/v1/consents/{record.id}/verify", json={})
            assert response.status_code == 200, response.get_json()

        verify(grant("eligible"))
        make_consent(
            field_worker, kids["refused"], "parental", "refused", guardianship=links["refused"]
        )
        tomorrow = today() + dt.timedelta(days=1)
        verify(grant("expired_since", valid_until=tomorrow))
        yesterday = today() - dt.timedelta(days=1)
        verify(
            grant(
                "expired",
                given_at=utcnow() - dt.timedelta(days=10),
                valid_until=yesterday,
            )
        )
        pending = grant("pending")
        revoked = grant("revoked")
        response = as_coordinator.post(
            f"/api/v1/consents/{revoked.id}/revoke", json={"reason": "Mother withdrew it"}
        )
        assert response.status_code == 200, response.get_json()
        verify(grant("evacuated"))
        _set(app, Person, [kids["evacuated"].id], status="evacuated")
        # a day later, the grant that was valid until today has run out
        _set(app, Person, [kids["expired_since"].id], eligibility_until=yesterday)
        return {"pending": pending.id, "revoked": revoked.id}

    return make


# --- the numbers -------------------------------------------------------------------------


def test_children_present_are_counted_by_eligibility(app, as_coordinator, children):
    children()

    summary = as_coordinator.get(URL)

    assert summary.status_code == 200, summary.get_json()
    assert summary.get_json()["children_by_eligibility"] == {
        "eligible": 1,
        # nothing recorded, a grant revoked, and a child with no parent at all
        "consent_missing": 3,
        "parental_refusal": 1,
        # recorded already expired, and expired since it was verified
        "consent_expired": 2,
        "consent_pending_review": 1,
    }
    assert summary.get_json()["consents_pending_review"] == 1


def test_the_review_queue_counts_pending_grants_and_ages_the_oldest(app, as_coordinator, children):
    consents = children()
    now = utcnow()
    _set(app, ConsentRecord, [consents["pending"]], recorded_at=now - dt.timedelta(hours=5))
    # a revoked grant leaves the queue, however old
    _set(app, ConsentRecord, [consents["revoked"]], recorded_at=now - dt.timedelta(hours=50))

    body = as_coordinator.get(URL).get_json()

    assert body["consents_pending_review"] == 1
    assert 4.9 <= body["oldest_pending_review_hours"] <= 5.2


def test_an_empty_queue_has_no_oldest_age(as_coordinator):
    body = as_coordinator.get(URL).get_json()
    assert body["consents_pending_review"] == 0
    assert body["oldest_pending_review_hours"] is None
    assert body["households_by_status"] == {}
    assert body["children_by_eligibility"] == {}
    assert body["visits_overdue"] == 0
    assert body["free_housing_capacity"] == 0
    assert body["generated_at"].endswith("+00:00")


def test_households_by_status_and_overdue_visits(app, as_coordinator, make_household, team):
    day = today()
    yesterday, tomorrow = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    cases = [
        ("identified", yesterday, True),
        ("engaging", yesterday, True),
        ("ready", day - dt.timedelta(days=30), True),
        ("engaging", day, False),  # due today is not overdue yet
        ("engaging", tomorrow, False),
        ("engaging", None, False),
        ("closed", yesterday, False),  # closed cases are not visited any more
        ("declined", yesterday, False),
        ("evacuated", yesterday, False),
    ]
    for status, due, _ in cases:
        household = make_household(team=team)
        reason = "moved_away" if status == "closed" else None
        _set(
            app, Household, [household.id], status=status, closed_reason=reason, next_visit_due=due
        )

    body = as_coordinator.get(URL).get_json()

    assert body["households_by_status"] == {
        "identified": 1,
        "engaging": 4,
        "ready": 1,
        "closed": 1,
        "declined": 1,
        "evacuated": 1,
    }
    assert body["visits_overdue"] == sum(overdue for *_, overdue in cases)


def test_free_housing_capacity_sums_available_offers(app, as_coordinator, make_offer):
    partly_taken = make_offer(capacity=4)
    _set(app, HousingOffer, [partly_taken.id], taken=1)
    make_offer(capacity=2)
    withdrawn = make_offer(capacity=10)
    _set(app, HousingOffer, [withdrawn.id], status="withdrawn")
    reserved = make_offer(capacity=3)
    _set(app, HousingOffer, [reserved.id], status="reserved", taken=3)

    body = as_coordinator.get(URL).get_json()

    assert body["free_housing_capacity"] == (4 - 1) + 2


# --- who may ask, and what it costs ------------------------------------------------------


def test_only_coordinators_see_the_summary(as_field_worker, as_admin, anonymous):
    for api in (as_field_worker, as_admin):
        response = api.get(URL)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
    assert anonymous.get(URL).status_code == 401


def test_the_summary_costs_the_same_queries_whatever_the_data(
    app, as_coordinator, children, make_household, make_offer, count_queries, team
):
    def measure() -> int:
        with count_queries() as counter:
            response = as_coordinator.get(URL)
        assert response.status_code == 200
        return counter.count

    children()
    make_offer(capacity=3)
    as_coordinator.get(URL)  # warm up (token bookkeeping happens on first use)
    small = measure()

    for _ in range(3):
        children()
        make_offer(capacity=2)
    for status in ("engaging", "closed", "declined", "evacuated"):
        household = make_household(team=team)
        reason = "duplicate" if status == "closed" else None
        _set(
            app,
            Household,
            [household.id],
            status=status,
            closed_reason=reason,
            next_visit_due=dt.date(2020, 1, 1),
        )
    body = as_coordinator.get(URL).get_json()
    assert body["children_by_eligibility"]["eligible"] == 4
    assert body["free_housing_capacity"] == 3 + 3 * 2

    assert measure() == small
