"""A revocation racing a departure: the child never leaves on a consent already withdrawn.

DESIGN §4: departing evaluates the rule again "inside the same transaction, under lock, so a
revocation that lands a second earlier wins"; §9: "a revocation racing a departure".

Every request here runs in a thread of its own, through its own test client, so on its own
database connection and in its own transaction: the locks are real. The tables are emptied
after each test by the suite's autouse fixture.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.evacuations import service as evacuation_service
from app.extensions import db
from tests.conftest import wait_for_lock_waiters

pytestmark = [pytest.mark.slow, pytest.mark.commits]

ROUNDS = 10
REVOKE_REASON = {"reason": "The mother changed her mind at the last moment."}


@dataclass
class Scene:
    """A mother and her child (verified parental grant), both in one planned evacuation."""

    evacuation: object
    mother: object
    child: object
    #: the mother's grant for the child
    consent: object

    @property
    def revoke_path(self) -> str:
        return f"/api/v1/consents/{self.consent.id}/revoke"

    @property
    def depart_path(self) -> str:
        return f"/api/v1/evacuations/{self.evacuation.id}/depart"


@pytest.fixture
def scene(app, coordinator, team, make_household, make_evacuation, eligible_adult, child_of):
    """``scene()``: a fresh family in a fresh evacuation, ready to depart."""

    def build() -> Scene:
        household = make_household(team=team, locality="Riverside")
        mother = eligible_adult(household)
        child = child_of(mother, household)
        evacuation = make_evacuation(team)
        with app.app_context():
            actor = db.session.get(User, coordinator.id)
            for person_id, companion in ((mother.id, None), (child.person.id, mother.id)):
                evacuation_service.add_member(
                    actor,
                    evacuation.id,
                    {"person_id": person_id, "accompanied_by_person_id": companion},
                )
                db.session.commit()
        return Scene(evacuation, mother, child.person, child.consent)

    return build


@pytest.fixture
def tokens(login, field_worker, coordinator) -> dict[str, str]:
    """One bearer token each, taken once (logging in every round would meet the throttle)."""
    return {"field_worker": login(field_worker).token, "coordinator": login(coordinator).token}


class Request(threading.Thread):
    """One POST from a thread of its own, through a test client (and connection) of its own."""

    def __init__(self, app, token: str, path: str, body: dict, start_together=None) -> None:
        super().__init__(daemon=True)
        self.app, self.token, self.path, self.body = app, token, path, body
        self.start_together = start_together
        self.status: int | None = None
        self.json: dict | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.test_client() as client:
                if self.start_together is not None:
                    self.start_together.wait(timeout=30)
                response = client.post(
                    self.path, json=self.body, headers={"Authorization": f"Bearer {self.token}"}
                )
                self.status, self.json = response.status_code, response.get_json()
        except BaseException as error:  # reported by finish(), in the test's own thread
            self.error = error

    def finish(self) -> Request:
        self.join(timeout=60)
        assert not self.is_alive(), f"POST {self.path} did not finish: a lock was never released"
        if self.error is not None:
            raise self.error
        return self


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def check_invariant(as_coordinator, scene: Scene, revocation: Request, departure: Request) -> str:
    """The rule's promise, whatever the order: answer which side won."""
    assert revocation.status == 200, revocation.json
    revoked_at = moment(revocation.json["revoked_at"])
    stored = as_coordinator.get(f"/api/v1/evacuations/{scene.evacuation.id}").get_json()
    assert {m["person_id"] for m in stored["members"]} == {
        str(scene.mother.id),
        str(scene.child.id),
    }

    if departure.status == 200:
        # the departure took the lock first: the child left while the consent still stood
        assert stored["status"] == departure.json["status"] == "departed"
        departed_at = moment(stored["departed_at"])
        assert revoked_at > departed_at, (revoked_at, departed_at)
        return "departed before the revocation"

    # the revocation took the lock first: the departure saw it and changed nothing
    assert departure.status == 409, departure.json
    assert [(r["code"], r["person_id"]) for r in departure.json["reasons"]] == [
        ("consent_missing", str(scene.child.id))
    ]
    assert stored["status"] == "planned"
    assert stored["departed_at"] is None
    return "refused after the revocation"


def test_a_revocation_racing_a_departure_never_lets_the_child_leave_without_consent(
    app, scene, tokens, as_coordinator
):
    """Released together by a barrier, ten times over, on fresh data each round."""
    outcomes = []
    for _ in range(ROUNDS):
        current = scene()
        barrier = threading.Barrier(2)
        revocation = Request(
            app, tokens["field_worker"], current.revoke_path, REVOKE_REASON, barrier
        )
        departure = Request(app, tokens["coordinator"], current.depart_path, {}, barrier)
        revocation.start()
        departure.start()
        revocation.finish()
        departure.finish()
        outcomes.append(check_invariant(as_coordinator, current, revocation, departure))

    # either side may win a round (the scheduler decides); every round kept the promise
    assert len(outcomes) == ROUNDS
    assert set(outcomes) <= {"departed before the revocation", "refused after the revocation"}


# --- the two orders, forced (PostgreSQL: real row locks held by a third connection) ------


@pytest.fixture
def postgres_only(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no row locks to hold from a third connection")


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_a_revocation_first_in_line_wins_over_a_departure_waiting_behind_it(
    app, scene, tokens, as_coordinator
):
    """Both wait on the child's row; the revocation queued first, so the departure, which
    already holds the evacuation, must see the revocation once it gets the row."""
    current = scene()
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(
            sa.text("SELECT id FROM persons WHERE id = :id FOR UPDATE"), {"id": current.child.id}
        )
        revocation = Request(app, tokens["field_worker"], current.revoke_path, REVOKE_REASON)
        revocation.start()
        wait_for_lock_waiters(1)
        departure = Request(app, tokens["coordinator"], current.depart_path, {})
        departure.start()
        wait_for_lock_waiters(2)
        holder.rollback()
        revocation.finish()
        departure.finish()

    outcome = check_invariant(as_coordinator, current, revocation, departure)
    assert outcome == "refused after the revocation"


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
def test_a_revocation_that_takes_effect_after_the_departure_leaves_it_standing(
    app, scene, tokens, as_coordinator
):
    """Both wait on the child's row (a revocation locks the person before the consent: the
    lock order); the departure queued first, so the revocation takes effect (and is timed)
    only once it holds the lock, after the departure: the child left on a consent valid at
    the time."""
    current = scene()
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(
            sa.text("SELECT id FROM persons WHERE id = :id FOR UPDATE"), {"id": current.child.id}
        )
        departure = Request(app, tokens["coordinator"], current.depart_path, {})
        departure.start()
        wait_for_lock_waiters(1)
        revocation = Request(app, tokens["field_worker"], current.revoke_path, REVOKE_REASON)
        revocation.start()
        wait_for_lock_waiters(2)
        holder.rollback()
        departure.finish()
        revocation.finish()

    outcome = check_invariant(as_coordinator, current, revocation, departure)
    assert outcome == "departed before the revocation"
