"""A withdrawal races an evacuation step: the withdrawal is recorded, every time, and wins.

Issue 8.1: revoking a consent, recording a refusal or recording that a parent can no longer
decide must never fail because an evacuation step runs at the same moment (it used to: the
two paths locked the consent and the person rows in opposite orders, and PostgreSQL broke
the deadlock by killing one of them, often the revocation, answered 409
``concurrent_change``). Every path now locks in one order (persons, then their
guardianships and consents; see ``app.households.scope.lock_persons``).

Each request runs in a thread of its own through a test client of its own, so on its own
connection and in its own transaction; a barrier releases the two together. PostgreSQL
only: SQLite has a single writer, so nothing there can deadlock or interleave.

Which side committed first is read from the audit trail: events are appended at commit,
one transaction at a time, under the chain's lock, so their sequence is the commit order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.evacuations import service as evacuation_service
from app.extensions import db
from app.households import guardianships
from app.households.models import Person
from tests.conftest import wait_for_lock_waiters

ROUNDS = 20
FEW_ROUNDS = 6
REVOKE = {"reason": "The mother changed her mind at the last moment."}

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.commits]


@pytest.fixture(autouse=True)
def postgres_only(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite has a single writer: there is no lock order to get wrong")


@dataclass
class Scene:
    """A mother and her child (verified parental grant); the mother is already a member."""

    evacuation_id: str
    mother_id: str
    child_id: str
    consent_id: str
    link_id: str

    @property
    def evacuation(self) -> str:
        return f"/api/v1/evacuations/{self.evacuation_id}"


@pytest.fixture
def scene(app, coordinator, team, make_household, make_evacuation, eligible_adult, child_of):
    """``scene(child_in=False)``: a fresh family in a fresh planned evacuation."""

    def build(*, child_in: bool) -> Scene:
        household = make_household(team=team, locality="Riverside")
        mother = eligible_adult(household)
        child = child_of(mother, household)
        evacuation = make_evacuation(team)
        members = [(mother.id, None)] + ([(child.person.id, mother.id)] if child_in else [])
        with app.app_context():
            actor = db.session.get(User, coordinator.id)
            for person_id, companion in members:
                evacuation_service.add_member(
                    actor,
                    evacuation.id,
                    {"person_id": person_id, "accompanied_by_person_id": companion},
                )
                db.session.commit()
        return Scene(
            str(evacuation.id),
            str(mother.id),
            str(child.person.id),
            str(child.consent.id),
            str(child.link.id),
        )

    return build


@pytest.fixture
def tokens(login, field_worker, coordinator) -> dict[str, str]:
    """One bearer token each, taken once (logging in every round would meet the throttle)."""
    return {"field_worker": login(field_worker).token, "coordinator": login(coordinator).token}


class Request(threading.Thread):
    """One request from a thread of its own, through a test client (and connection) of its own."""

    def __init__(
        self, app, token, method, path, body, barrier, headers: dict | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.app, self.method, self.path, self.body, self.barrier = (
            app,
            method,
            path,
            body,
            barrier,
        )
        self.headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        self.status: int | None = None
        self.json: dict | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.test_client() as client:
                self.barrier.wait(timeout=30)
                response = client.open(
                    self.path, method=self.method, json=self.body, headers=self.headers
                )
                self.status, self.json = response.status_code, response.get_json()
        except BaseException as error:  # reported by finish(), in the test's own thread
            self.error = error

    def finish(self) -> Request:
        self.join(timeout=60)
        assert not self.is_alive(), f"{self.method} {self.path} never finished: a lock leaked"
        if self.error is not None:
            raise self.error
        return self


def race(first: Request, second: Request) -> None:
    for request in (first, second):
        request.start()
    for request in (first, second):
        request.finish()


def commit_sequence(app, entity_type: str, entity_id: str, *, changed: str | None = None) -> int:
    """The audit sequence number of the latest write to an entity (with ``changed`` among
    its changed fields): events are appended at commit, in commit order."""
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, action, details FROM audit_events "
                "WHERE entity_type = :type AND entity_id = :id ORDER BY id"
            ),
            {"type": entity_type, "id": entity_id},
        ).all()
    wanted = [
        row.id
        for row in rows
        if row.action in ("create", "update")
        and (changed is None or changed in (row.details or {}).get("changed", {}))
    ]
    assert wanted, f"no audited write of {entity_type} {entity_id} ({changed})"
    return wanted[-1]


def reasons_for(answer: dict, person_id: str) -> set[str]:
    return {r["code"] for r in answer.get("reasons", []) if r.get("person_id") == person_id}


#: what the rule answers for the child once each withdrawal stands
BLOCKED_BY = {
    "revocation": {"consent_missing"},
    "refusal": {"parental_refusal"},
    # no parent left who can decide: the social services would have to
    "parent deceased": {"consent_missing"},
    # and the adult the child was to go with is no longer there
    "mother deceased": {"consent_missing", "unaccompanied_child"},
}


# --- the withdrawals, as requests ----------------------------------------------------------


def revocation(app, tokens, current: Scene, barrier) -> Request:
    path = f"/api/v1/consents/{current.consent_id}/revoke"
    return Request(app, tokens["field_worker"], "POST", path, REVOKE, barrier)


def refusal(app, tokens, current: Scene, barrier) -> Request:
    body = {
        "subject_id": current.child_id,
        "basis": "parental",
        "decision": "refused",
        "guardianship_id": current.link_id,
        "given_at": dt.datetime.now(dt.UTC).isoformat(),
        "evidence": "signed_form",
    }
    return Request(app, tokens["field_worker"], "POST", "/api/v1/consents", body, barrier)


def patch(app, tokens, as_coordinator, path: str, body: dict, barrier) -> Request:
    etag = as_coordinator.get(path).headers["ETag"]
    return Request(
        app, tokens["coordinator"], "PATCH", path, body, barrier, headers={"If-Match": etag}
    )


def parent_deceased(app, tokens, as_coordinator, current: Scene, barrier) -> Request:
    """The mother's link: she can no longer decide (recorded on the link)."""
    path = f"/api/v1/guardianships/{current.link_id}"
    return patch(app, tokens, as_coordinator, path, {"legal_status": "deceased"}, barrier)


def mother_deceased(app, tokens, as_coordinator, current: Scene, barrier) -> Request:
    """The mother herself: her links to her children follow her status."""
    path = f"/api/v1/persons/{current.mother_id}"
    return patch(app, tokens, as_coordinator, path, {"status": "deceased"}, barrier)


#: what each withdrawal answers, and the audited write that records it
WITHDRAWALS = {
    "revocation": (revocation, 200, "consent_records", "revoked_at"),
    "refusal": (refusal, 201, "consent_records", None),
    "parent deceased": (parent_deceased, 200, "guardianships", "legal_status"),
    "mother deceased": (mother_deceased, 200, "persons", "status"),
}


def withdraw(name, app, tokens, as_coordinator, current, barrier) -> Request:
    make = WITHDRAWALS[name][0]
    if name in ("parent deceased", "mother deceased"):
        return make(app, tokens, as_coordinator, current, barrier)
    return make(app, tokens, current, barrier)


def withdrawal_sequence(app, name: str, current: Scene, answer: Request) -> int:
    _, _, entity_type, changed = WITHDRAWALS[name]
    entity_id = {
        "revocation": current.consent_id,
        "refusal": (answer.json or {}).get("id"),
        "parent deceased": current.link_id,
        "mother deceased": current.mother_id,
    }[name]
    return commit_sequence(app, entity_type, entity_id, changed=changed)


def check_withdrawal_recorded(name: str, answer: Request) -> None:
    expected = WITHDRAWALS[name][1]
    assert answer.status == expected, (name, answer.status, answer.json)


# --- against adding the child to the evacuation -------------------------------------------


def race_addition(app, tokens, as_coordinator, scene, name: str) -> str:
    current = scene(child_in=False)
    barrier = threading.Barrier(2)
    withdrawal = withdraw(name, app, tokens, as_coordinator, current, barrier)
    body = {"person_id": current.child_id, "accompanied_by_person_id": current.mother_id}
    addition = Request(
        app, tokens["coordinator"], "POST", f"{current.evacuation}/members", body, barrier
    )
    race(withdrawal, addition)

    check_withdrawal_recorded(name, withdrawal)
    stored = as_coordinator.get(current.evacuation).get_json()
    members = {m["person_id"] for m in stored["members"]}
    withdrawn_at = withdrawal_sequence(app, name, current, withdrawal)
    if addition.status == 201:
        # the addition committed first: the child was eligible when it was checked
        assert members == {current.mother_id, current.child_id}
        added_at = commit_sequence(
            app, "evacuation_members", f"{current.evacuation_id}:{current.child_id}"
        )
        assert added_at < withdrawn_at, (name, added_at, withdrawn_at)
        outcome = "added before the withdrawal"
    else:
        # the withdrawal committed first: the addition saw it and changed nothing
        assert addition.status == 409, addition.json
        assert addition.json["code"] == "not_eligible", addition.json
        assert reasons_for(addition.json, current.child_id) == BLOCKED_BY[name], addition.json
        assert members == {current.mother_id}
        outcome = "refused after the withdrawal"

    if addition.status == 201:
        # added in time, but the withdrawal stands: the child does not leave now
        departure = as_coordinator.post(f"{current.evacuation}/depart", json={})
        assert departure.status_code == 409, departure.get_json()
        assert reasons_for(departure.get_json(), current.child_id) == BLOCKED_BY[name]
        assert as_coordinator.get(current.evacuation).get_json()["status"] == "planned"
    return outcome


# --- against the departure -----------------------------------------------------------------


def race_departure(app, tokens, as_coordinator, scene, name: str) -> str:
    current = scene(child_in=True)
    barrier = threading.Barrier(2)
    withdrawal = withdraw(name, app, tokens, as_coordinator, current, barrier)
    departure = Request(
        app, tokens["coordinator"], "POST", f"{current.evacuation}/depart", {}, barrier
    )
    race(withdrawal, departure)

    check_withdrawal_recorded(name, withdrawal)
    stored = as_coordinator.get(current.evacuation).get_json()
    assert {m["person_id"] for m in stored["members"]} == {current.mother_id, current.child_id}
    withdrawn_at = withdrawal_sequence(app, name, current, withdrawal)
    if stored["status"] == "departed":
        # the child left: only on a decision that still stood when the departure committed
        assert departure.status == 200, departure.json
        departed_at = commit_sequence(app, "evacuations", current.evacuation_id, changed="status")
        assert departed_at < withdrawn_at, (name, departed_at, withdrawn_at)
        if name == "revocation":
            revoked_at = dt.datetime.fromisoformat(withdrawal.json["revoked_at"])
            assert revoked_at > dt.datetime.fromisoformat(stored["departed_at"])
        return "departed before the withdrawal"

    # the withdrawal committed first: the departure saw it, named the child, changed nothing
    assert departure.status == 409, departure.json
    assert departure.json["code"] == "departure_blocked", departure.json
    assert reasons_for(departure.json, current.child_id) == BLOCKED_BY[name], departure.json
    assert stored["status"] == "planned" and stored["departed_at"] is None
    return "refused after the withdrawal"


# --- the races -----------------------------------------------------------------------------


def run_rounds(rounds, play) -> Counter:
    outcomes = Counter(play() for _ in range(rounds))
    assert sum(outcomes.values()) == rounds
    return outcomes


def test_a_revocation_racing_an_addition_is_always_recorded_and_wins(
    app, scene, tokens, as_coordinator
):
    run_rounds(ROUNDS, lambda: race_addition(app, tokens, as_coordinator, scene, "revocation"))
    # either order is legal; race_* asserted the promise in every round


def test_a_revocation_racing_a_departure_is_always_recorded_and_wins(
    app, scene, tokens, as_coordinator
):
    run_rounds(ROUNDS, lambda: race_departure(app, tokens, as_coordinator, scene, "revocation"))
    # either order is legal; race_* asserted the promise in every round


@pytest.mark.parametrize("name", ["refusal", "parent deceased", "mother deceased"])
def test_a_refusal_or_a_parents_loss_racing_an_addition_is_always_recorded(
    app, scene, tokens, as_coordinator, name
):
    run_rounds(FEW_ROUNDS, lambda: race_addition(app, tokens, as_coordinator, scene, name))


@pytest.mark.parametrize("name", ["refusal", "parent deceased", "mother deceased"])
def test_a_refusal_or_a_parents_loss_racing_a_departure_is_always_recorded(
    app, scene, tokens, as_coordinator, name
):
    run_rounds(FEW_ROUNDS, lambda: race_departure(app, tokens, as_coordinator, scene, name))


# --- the interleaving that deadlocked, forced ------------------------------------------------


@contextlib.contextmanager
def holding_the_childs_row(app, child_id: str):
    """A third connection holds the child's person row, so the requests started meanwhile
    queue on it in the order they are started; leaving the block lets them through."""
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(
            sa.select(Person.id).where(Person.id == uuid.UUID(child_id)).with_for_update()
        )
        yield
        holder.rollback()


@pytest.mark.parametrize(
    "revocation_first", [False, True], ids=["addition first", "revocation first"]
)
def test_the_interleaving_that_deadlocked_now_queues(
    app, scene, tokens, as_coordinator, revocation_first
):
    """The addition locks the evacuation, then waits for the child; the revocation waits
    for the child too. Under the old order the revocation had locked the consent first
    (FOR UPDATE), the addition then needed it for its member's foreign key, and PostgreSQL
    killed one of the two. Now both queue on the child's row and run one after the other,
    in the order they queued, whichever that is."""
    current = scene(child_in=False)
    body = {"person_id": current.child_id, "accompanied_by_person_id": current.mother_id}
    addition = Request(
        app,
        tokens["coordinator"],
        "POST",
        f"{current.evacuation}/members",
        body,
        threading.Barrier(1),
    )
    withdrawal = revocation(app, tokens, current, threading.Barrier(1))
    first, second = (withdrawal, addition) if revocation_first else (addition, withdrawal)
    with holding_the_childs_row(app, current.child_id):
        first.start()
        wait_for_lock_waiters(1)
        second.start()
        wait_for_lock_waiters(2)
    first.finish()
    second.finish()

    assert withdrawal.status == 200, withdrawal.json
    if revocation_first:
        assert addition.status == 409, addition.json
        assert reasons_for(addition.json, current.child_id) == {"consent_missing"}
    else:
        assert addition.status == 201, addition.json
        departure = as_coordinator.post(f"{current.evacuation}/depart", json={})
        assert departure.status_code == 409, departure.get_json()
        assert reasons_for(departure.get_json(), current.child_id) == {"consent_missing"}


# --- a parent recorded deceased while a child is being linked to them --------------------


def test_a_parent_recorded_deceased_while_a_child_is_linked_to_her_covers_that_child_too(
    app, coordinator, household, make_person, child_of, tokens, as_coordinator
):
    """The status change reads her children, then waits for her row, held by a link to a
    second child being recorded; once it has her row it finds that child too, and takes
    its locks again with that child among them (still in one ordered call)."""
    mother = make_person(household, full_name="Mother on record")
    first = child_of(mother, household)
    second = make_person(household, age=5, full_name="Second child")
    current = Scene("", str(mother.id), str(first.person.id), "", "")
    change = mother_deceased(app, tokens, as_coordinator, current, threading.Barrier(1))
    with app.app_context():
        actor = db.session.get(User, coordinator.id)
        link = guardianships.add_guardian(
            actor, second.id, {"guardian_person_id": mother.id, "relationship": "mother"}
        )
        link_id = str(link.id)
        change.start()
        wait_for_lock_waiters(1)
        db.session.commit()
    change.finish()

    assert change.status == 200, change.json
    assert change.json["status"] == "deceased"
    for link_path in (f"/api/v1/guardianships/{first.link.id}", f"/api/v1/guardianships/{link_id}"):
        assert as_coordinator.get(link_path).get_json()["legal_status"] == "deceased"
