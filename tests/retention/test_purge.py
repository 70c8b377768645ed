"""Retention: ``flask --app wsgi retention purge --older-than-days N [--dry-run]``.

Households a coordinator closed long enough ago lose every name, contact, address and
free text, in the household and everything under it; statuses, dates, decisions and
counts stay, and so does a verifiable audit trail. Photos of offers nobody will use again
go, files included. Running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.permissions import OPERATOR
from app.consents.models import ConsentRecord
from app.db import REMOVED, utcnow
from app.extensions import db
from app.households.models import Guardianship, Household, Person
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal
from app.idempotency.models import IdempotencyKey
from app.retention import service as retention
from app.visits.models import Visit, VisitStance
from tests.conftest import png_bytes, wait_for_lock_waiters

ANONYMISED = "(anonymised)"
LONG_AGO = dt.timedelta(days=60)

# every personal value the case below holds: none may survive the purge
PERSONAL = (
    "Olena Bondar",
    "Dmytro Bondar",
    "Taras Bondar",
    "+48 600 100 200",
    "+380 67 555 0101",
    "basement of the 5-storey block",
    "Grandmother's keys",
    "asthma",
    "Ivan from flat 3",
    "Signed at the kitchen table",
    "Signature matches the passport",
    "She changed her mind",
    "Door on the left",
    "Worried about the dog",
    "Near her sister",
    "Too far from school",
    "Went to her sister in Lviv",
)


def _purge(app, *extra: str, days: int = 30):
    result = app.test_cli_runner().invoke(
        args=["retention", "purge", "--older-than-days", str(days), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _age(app, model, ids, *, by: dt.timedelta = LONG_AGO, **values) -> None:
    """Make rows look last changed ``by`` ago (as time passing would), with ``values``."""
    with app.app_context():
        db.session.execute(
            sa.update(model).where(model.id.in_(ids)).values(updated_at=utcnow() - by, **values)
        )
        db.session.commit()


def _last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


def _anonymise_events(app, after: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.entity_id)
                .where(
                    AuditEvent.id > after,
                    AuditEvent.action == "anonymise",
                    AuditEvent.entity_type == "households",
                )
                .order_by(AuditEvent.id)
            )
        )


def _snapshot(app, household_id) -> dict:
    """Every stored row under one household, as plain values."""
    persons = sa.select(Person.id).where(Person.household_id == household_id)
    visits = sa.select(Visit.id).where(Visit.household_id == household_id)
    queries = {
        "households": sa.select(Household).where(Household.id == household_id),
        "persons": sa.select(Person).where(Person.household_id == household_id),
        "guardianships": sa.select(Guardianship).where(Guardianship.child_id.in_(persons)),
        "consents": sa.select(ConsentRecord).where(ConsentRecord.subject_id.in_(persons)),
        "visits": sa.select(Visit).where(Visit.household_id == household_id),
        "stances": sa.select(VisitStance).where(VisitStance.visit_id.in_(visits)),
        "proposals": sa.select(HousingProposal).where(HousingProposal.household_id == household_id),
    }
    with app.app_context():
        snapshot = {}
        for name, stmt in queries.items():
            rows = db.session.scalars(stmt).all()
            snapshot[name] = sorted(
                (
                    {c.key: getattr(row, c.key) for c in sa.inspect(type(row)).column_attrs}
                    for row in rows
                ),
                key=lambda values: str(values.get("id", values.get("position"))),
            )
        return snapshot


def _photo_files(app, photo) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"]) / "photos" / photo.sha256[:2]
    return list(folder.glob(f"{photo.sha256}.*"))


@pytest.fixture
def case(
    app,
    as_field_worker,
    as_coordinator,
    field_worker,
    make_household,
    make_person,
    make_guardian,
    make_consent,
    make_offer,
    make_proposal,
    team,
):
    """A household with something personal in every corner: members, an outside parent,
    consents verified and revoked, a visit with stances, a declined housing proposal."""
    household = make_household(
        team=team,
        district="Left bank",
        address_description="basement of the 5-storey block by school no. 11",
        latitude=48.51,
        longitude=35.04,
        contact_phone="+380 67 555 0101",
        notes="Grandmother's keys are with the neighbour",
    )
    mother = make_person(
        household, age=34, full_name="Olena Bondar", sex="female", medical_notes="asthma"
    )
    child = make_person(household, age=7, full_name="Dmytro Bondar")
    mother_link = make_guardian(child, mother, "mother")
    father_link = make_guardian(
        child,
        None,
        "father",
        external_name="Taras Bondar",
        external_contact="+48 600 100 200",
    )
    grant = make_consent(
        field_worker,
        child,
        "parental",
        "granted",
        guardianship=mother_link,
        witness_name="Ivan from flat 3",
        evidence="witnessed_verbal",
        notes="Signed at the kitchen table",
    )
    verified = as_coordinator.post(
        f"/api/v1/consents/{grant.id}/verify", json={"note": "Signature matches the passport"}
    )
    assert verified.status_code == 200, verified.get_json()
    own = make_consent(field_worker, mother, "self", "granted")
    revoked = as_field_worker.post(
        f"/api/v1/consents/{own.id}/revoke", json={"reason": "She changed her mind"}
    )
    assert revoked.status_code == 200, revoked.get_json()
    visited_at = utcnow() - dt.timedelta(hours=3)
    visit = as_field_worker.post(
        f"/api/v1/households/{household.id}/visits",
        json={
            "visited_at": visited_at.isoformat(),
            "outcome": "talked",
            "stances": [
                {
                    "person_id": str(mother.id),
                    "stance": "undecided",
                    "note": "Worried about the dog",
                }
            ],
            "next_visit_on": (visited_at.date() + dt.timedelta(days=3)).isoformat(),
            "notes": "Door on the left",
        },
    )
    assert visit.status_code == 201, visit.get_json()
    offer = make_offer()
    proposal = make_proposal(household, offer, notes="Near her sister")
    declined = as_coordinator.post(
        f"/api/v1/housing-proposals/{proposal.id}/decline", json={"reason": "Too far from school"}
    )
    assert declined.status_code == 200, declined.get_json()
    closed = as_coordinator.post(
        f"/api/v1/households/{household.id}/status",
        json={"status": "closed", "reason": "moved_away", "note": "Went to her sister in Lviv"},
    )
    assert closed.status_code == 200, closed.get_json()
    _age(app, Household, [household.id])
    return SimpleNamespace(
        household=household,
        mother=mother,
        child=child,
        mother_link=mother_link,
        father_link=father_link,
        grant=grant,
        own=own,
        visit_id=visit.get_json()["id"],
        proposal=proposal,
    )


def _items(api, url: str) -> list[dict]:
    response = api.get(url)
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()["items"]


# --- what goes and what stays ------------------------------------------------------------


def test_a_closed_case_loses_its_personal_data_and_keeps_its_facts(app, as_coordinator, case):
    household_url = f"/api/v1/households/{case.household.id}"
    before = as_coordinator.get(household_url).get_json()
    members_before = {m["id"]: m for m in _items(as_coordinator, f"{household_url}/members")}

    output = _purge(app)

    assert "anonymised 1 household(s) and 2 person(s)" in output
    assert str(case.household.id) in output

    household = as_coordinator.get(household_url).get_json()
    for field in (
        "address_description",
        "contact_phone",
        "notes",
        "closed_note",
        "latitude",
        "longitude",
    ):
        assert household[field] is None, field
    for field in (
        "ref",
        "status",
        "closed_reason",
        "locality",
        "district",
        "priority",
        "member_count",
        "child_count",
        "last_visit_at",
        "next_visit_due",
        "created_at",
    ):
        assert household[field] == before[field], field
    assert household["status"] == "closed"
    assert (household["member_count"], household["child_count"]) == (2, 1)

    members = _items(as_coordinator, f"{household_url}/members")
    assert {m["id"] for m in members} == set(members_before)
    for member in members:
        assert member["full_name"] == ANONYMISED
        assert member["medical_notes"] is None
        kept = members_before[member["id"]]
        for field in ("date_of_birth", "dob_estimated", "sex", "status", "is_child", "mobility"):
            assert member[field] == kept[field], field

    links = {
        g["id"]: g for g in _items(as_coordinator, f"/api/v1/persons/{case.child.id}/guardians")
    }
    father = links[str(case.father_link.id)]
    assert father["external_name"] == ANONYMISED
    assert father["external_contact"] is None
    assert (father["relationship"], father["legal_status"]) == ("father", "active")
    mother = links[str(case.mother_link.id)]
    assert mother["guardian_person_id"] == str(case.mother.id)
    assert mother["relationship"] == "mother"

    grant = as_coordinator.get(f"/api/v1/consents/{case.grant.id}").get_json()
    assert grant["witness_name"] is None
    assert grant["notes"] is None
    assert grant["review_note"] == "(removed)"
    assert (grant["decision"], grant["basis"], grant["review_status"]) == (
        "granted",
        "parental",
        "verified",
    )
    assert grant["reviewed_at"] is not None
    own = as_coordinator.get(f"/api/v1/consents/{case.own.id}").get_json()
    assert own["revocation_reason"] == "(removed)"
    assert own["revoked_at"] is not None
    assert own["decision"] == "granted"

    [visit] = _items(as_coordinator, f"{household_url}/visits")
    assert visit["notes"] is None
    assert visit["outcome"] == "talked"
    assert visit["stances"] == [
        {"person_id": str(case.mother.id), "stance": "undecided", "note": None}
    ]

    [proposal] = _items(as_coordinator, f"{household_url}/housing-proposals")
    assert proposal["notes"] is None
    assert proposal["reason"] is None
    assert proposal["status"] == "declined"
    assert proposal["decided_at"] is not None

    # nothing personal is left anywhere under the household, not even in a column no
    # endpoint shows
    stored = repr(_snapshot(app, case.household.id))
    for value in PERSONAL:
        assert value not in stored, value


def test_statistics_still_count_an_anonymised_case(app, as_coordinator, case):
    before = as_coordinator.get("/api/v1/reports/summary").get_json()
    _purge(app)
    after = as_coordinator.get("/api/v1/reports/summary").get_json()
    assert after["households_by_status"] == before["households_by_status"] == {"closed": 1}


@pytest.mark.parametrize(
    ("status", "reason"), [("declined", "moved_away"), ("evacuated", "evacuated_and_arrived")]
)
def test_declined_and_evacuated_cases_wait_for_a_coordinator_to_close_them(
    app, as_coordinator, make_household, make_person, team, status, reason
):
    household = make_household(team=team, contact_phone="+380 50 000 0000", notes="Blue door")
    make_person(household, age=50, full_name="Mykola Hrytsenko")
    _age(app, Household, [household.id], status=status)

    assert "anonymised 0 household(s) and 0 person(s)" in _purge(app)
    shown = as_coordinator.get(f"/api/v1/households/{household.id}").get_json()
    assert (shown["status"], shown["notes"]) == (status, "Blue door")

    closed = as_coordinator.post(
        f"/api/v1/households/{household.id}/status", json={"status": "closed", "reason": reason}
    )
    assert closed.status_code == 200, closed.get_json()
    assert "anonymised 0 household(s)" in _purge(app)  # closed today: not yet
    _age(app, Household, [household.id])

    assert "anonymised 1 household(s) and 1 person(s)" in _purge(app)

    shown = as_coordinator.get(f"/api/v1/households/{household.id}").get_json()
    assert (shown["status"], shown["closed_reason"]) == ("closed", reason)
    assert (shown["contact_phone"], shown["notes"]) == (None, None)
    [member] = _items(as_coordinator, f"/api/v1/households/{household.id}/members")
    assert member["full_name"] == ANONYMISED


def test_recent_and_open_cases_are_untouched(
    app, as_coordinator, make_household, make_person, team
):
    closed_yesterday = make_household(team=team, notes="Closed only yesterday")
    make_person(closed_yesterday, full_name="Halyna Recent")
    _age(
        app,
        Household,
        [closed_yesterday.id],
        by=dt.timedelta(days=1),
        status="closed",
        closed_reason="moved_away",
    )
    open_for_long = make_household(team=team, notes="Still being worked on")
    make_person(open_for_long, full_name="Petro Waiting")
    _age(app, Household, [open_for_long.id], status="engaging")
    snapshots = {h.id: _snapshot(app, h.id) for h in (closed_yesterday, open_for_long)}

    assert "anonymised 0 household(s) and 0 person(s)" in _purge(app)

    for household_id, snapshot in snapshots.items():
        assert _snapshot(app, household_id) == snapshot
    names = {
        m["full_name"]
        for h in (closed_yesterday, open_for_long)
        for m in _items(as_coordinator, f"/api/v1/households/{h.id}/members")
    }
    assert names == {"Halyna Recent", "Petro Waiting"}


def test_the_cutoff_follows_older_than_days(app, make_household, make_person, team):
    household = make_household(team=team, notes="Closed ten days ago")
    make_person(household, full_name="Nina Cutoff")
    _age(
        app,
        Household,
        [household.id],
        by=dt.timedelta(days=10),
        status="closed",
        closed_reason="duplicate",
    )

    assert "anonymised 0 household(s)" in _purge(app, days=11)
    assert "anonymised 1 household(s) and 1 person(s)" in _purge(app, days=9)


# --- dry run, repetition, the audit trail ------------------------------------------------


def test_a_dry_run_counts_and_changes_nothing(app, case):
    mark = _last_event_id(app)
    snapshot = _snapshot(app, case.household.id)

    output = _purge(app, "--dry-run")

    assert "would anonymise 1 household(s) and 2 person(s)" in output
    assert str(case.household.id) in output
    assert _snapshot(app, case.household.id) == snapshot
    assert _anonymise_events(app, mark) == []
    # the real run still finds everything the dry run counted
    assert "anonymised 1 household(s) and 2 person(s)" in _purge(app)


def test_a_second_run_changes_nothing(app, case):
    _purge(app)
    snapshot = _snapshot(app, case.household.id)
    mark = _last_event_id(app)

    output = _purge(app)

    assert output.startswith(
        "anonymised 0 household(s) and 0 person(s); removed 0 photo(s) of unused offers "
        "and 0 expired idempotency record(s)"
    )
    assert str(case.household.id) not in output
    assert _snapshot(app, case.household.id) == snapshot
    assert _anonymise_events(app, mark) == []


def test_the_audit_chain_still_verifies_and_names_each_anonymised_case(
    app, as_admin, case, make_household, team
):
    other = make_household(team=team, notes="Closed long ago")
    _age(app, Household, [other.id], status="closed", closed_reason="left_by_other_means")
    mark = _last_event_id(app)

    _purge(app)

    assert sorted(_anonymise_events(app, mark)) == sorted([str(case.household.id), str(other.id)])
    verdict = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert verdict["ok"] is True
    assert verdict["first_broken_id"] is None
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_the_service_can_be_called_directly(app, make_household, make_person, team):
    household = make_household(team=team, contact_phone="+380 44 123 4567")
    make_person(household, full_name="Oksana Direct")
    _age(
        app,
        Household,
        [household.id],
        by=dt.timedelta(days=2),
        status="closed",
        closed_reason="left_by_other_means",
    )

    with app.app_context():
        counted = retention.purge(OPERATOR, 1, dry_run=True)
        assert (counted.households, counted.persons) == (1, 1)
        assert db.session.scalar(sa.select(Household.anonymised_at)) is None
        report = retention.purge(OPERATOR, 1)
        db.session.commit()
    assert (report.households, report.persons) == (1, 1)
    assert report.household_ids == [household.id]
    with app.app_context():
        row = db.session.get(Household, household.id)
        assert row.contact_phone is None
        assert row.anonymised_at is not None
        assert db.session.scalar(sa.select(Person.full_name)) == ANONYMISED
        again = retention.purge(OPERATOR, 1)
        db.session.commit()
    assert (again.households, again.persons) == (0, 0)


# --- photos and idempotency records ------------------------------------------------------


def test_photos_of_offers_no_longer_used_are_removed(app, as_coordinator, make_offer, make_photo):
    withdrawn = make_offer(title="Withdrawn long ago")
    gone = make_photo(withdrawn, png_bytes(colour=(11, 22, 33)), caption="Kitchen")
    shared_bytes = png_bytes(colour=(44, 55, 66))
    shared_gone = make_photo(withdrawn, shared_bytes)
    available = make_offer(title="Still available")
    kept = make_photo(available, shared_bytes)
    kept_own = make_photo(available, png_bytes(colour=(77, 88, 99)))
    recently_withdrawn = make_offer(title="Withdrawn yesterday")
    recent = make_photo(recently_withdrawn, png_bytes(colour=(12, 34, 56)))
    _age(app, HousingOffer, [withdrawn.id], status="withdrawn")
    _age(app, HousingOffer, [available.id])
    _age(app, HousingOffer, [recently_withdrawn.id], by=dt.timedelta(days=1), status="withdrawn")
    assert _photo_files(app, gone)

    dry = _purge(app, "--dry-run")
    assert "would remove 2 photo(s) of unused offers" in dry
    assert _photo_files(app, gone)

    output = _purge(app)

    assert "removed 2 photo(s) of unused offers" in output
    with app.app_context():
        remaining = set(db.session.scalars(sa.select(HousingPhoto.id)))
    assert remaining == {kept.id, kept_own.id, recent.id}
    assert shared_gone.id not in remaining
    assert _photo_files(app, gone) == []
    # the same picture is still shown on an offer in use: its file stays
    assert _photo_files(app, kept)
    for offer, photo in ((available, kept), (available, kept_own), (recently_withdrawn, recent)):
        response = as_coordinator.get(f"/api/v1/housing-offers/{offer.id}/photos/{photo.id}")
        assert response.status_code == 200
        assert response.data
    missing = as_coordinator.get(f"/api/v1/housing-offers/{withdrawn.id}/photos/{gone.id}")
    assert missing.status_code == 404
    assert "removed 0 photo(s)" in _purge(app)


def test_expired_idempotency_records_are_deleted(app, as_field_worker):
    for key in ("retry-old", "retry-fresh"):
        response = as_field_worker.post(
            "/api/v1/households", json={"locality": "Riverside"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 201
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.key == "retry-old")
            .values(expires_at=utcnow() - dt.timedelta(hours=1))
        )
        db.session.commit()

    assert "would remove 0 photo(s) of unused offers and 1 expired idempotency record(s)" in (
        _purge(app, "--dry-run")
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 2

    assert "and 1 expired idempotency record(s)" in _purge(app)

    with app.app_context():
        assert list(db.session.scalars(sa.select(IdempotencyKey.key))) == ["retry-fresh"]
    # the fresh key still replays its first answer
    replay = as_field_worker.post(
        "/api/v1/households",
        json={"locality": "Riverside"},
        headers={"Idempotency-Key": "retry-fresh"},
    )
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_the_number_of_days_is_required_and_positive(app):
    runner = app.test_cli_runner()
    for args in ([], ["--older-than-days", "0"], ["--older-than-days", "-5"]):
        result = runner.invoke(args=["retention", "purge", *args])
        assert result.exit_code != 0, args


# --- a case reopened while the purge runs ------------------------------------------------


@pytest.mark.slow
@pytest.mark.commits
@pytest.mark.postgres_only
def test_a_case_reopened_while_the_purge_runs_keeps_its_data(
    app, is_postgres, as_coordinator, make_household, make_person, team
):
    """A worker reopens an old case just as the purge starts: the purge must see the reopened
    case, not the closed one it read a moment before, and leave it alone."""
    if not is_postgres:
        pytest.skip("SQLite has no row locks to hold from a third connection")
    household = make_household(team=team, notes="Came back after the winter")
    make_person(household, full_name="Iryna Returning")
    _age(app, Household, [household.id], status="closed", closed_reason="moved_away")
    reports = []

    def run_purge() -> None:
        with app.app_context():
            reports.append(retention.purge(OPERATOR, 30))
            db.session.commit()

    purge = threading.Thread(target=run_purge, daemon=True)
    with app.app_context(), db.engine.connect() as reopening:
        reopening.execute(
            sa.update(Household)
            .where(Household.id == household.id)
            .values(status="engaging", closed_reason=None, updated_at=utcnow())
        )
        purge.start()
        wait_for_lock_waiters(1)
        reopening.commit()
    purge.join(timeout=20)

    assert not purge.is_alive()
    assert reports and reports[0].households == 0
    shown = as_coordinator.get(f"/api/v1/households/{household.id}").get_json()
    assert (shown["status"], shown["notes"]) == ("engaging", "Came back after the winter")
    [member] = _items(as_coordinator, f"/api/v1/households/{household.id}/members")
    assert member["full_name"] == "Iryna Returning"


def test_the_way_out_and_the_new_address_go_too(
    app, make_household, make_person, make_offer, make_evacuation, coordinator, team
):
    """An evacuated family's meeting point, and the flat they moved into, are personal too."""
    from app.evacuations.models import Evacuation, EvacuationMember

    household = make_household(team=team)
    person = make_person(household, age=40)
    offer = make_offer(address="Flat 4, 12 Linden Street", provider_contact="+000 555 0123")
    evacuation = make_evacuation(
        team, meeting_point="Behind the pharmacy", route_notes="By the river"
    )
    long_ago = utcnow() - dt.timedelta(days=90)
    with app.app_context():
        db.session.add(
            EvacuationMember(
                evacuation_id=evacuation.id, person_id=person.id, added_by=coordinator.id
            )
        )
        db.session.execute(
            sa.update(Person).where(Person.id == person.id).values(status="evacuated")
        )
        db.session.execute(
            sa.update(Household)
            .where(Household.id == household.id)
            .values(status="closed", closed_reason="evacuated_and_arrived", updated_at=long_ago)
        )
        db.session.execute(
            sa.update(HousingOffer)
            .where(HousingOffer.id == offer.id)
            .values(status="occupied", updated_at=long_ago)
        )
        db.session.commit()
        retention.purge(OPERATOR, 30)
        db.session.commit()
        evacuation_row = db.session.get(Evacuation, evacuation.id)
        offer_row = db.session.get(HousingOffer, offer.id)
        db.session.refresh(evacuation_row)
        db.session.refresh(offer_row)
        assert evacuation_row.meeting_point == REMOVED
        assert evacuation_row.route_notes is None
        assert (offer_row.address, offer_row.provider_contact) == (None, None)
        assert offer_row.status == "occupied"
