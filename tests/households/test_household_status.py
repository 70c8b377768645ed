"""The household lifecycle (DESIGN §10): one function owns every status move.

``POST /api/v1/households/{id}/status`` with ``{"status", "reason"?, "note"?}``: field
workers move their team's households among engaging, ready and declined; coordinators also
close (with a reason) and re-open; only an evacuation's arrival makes a household
evacuated. Every other move is 409 ``invalid_transition``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.models import User
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.evacuations import service as evacuation_service
from app.extensions import db
from app.households import lifecycle
from app.households.models import HOUSEHOLD_STATUSES, Household
from app.timeline.models import TimelineEntry
from tests.households.helpers import etag

OPEN = ("identified", "engaging", "ready", "evacuated", "declined")

#: The reviewed table, written out here rather than read from the code it checks.
TEAM_MOVES = {
    ("identified", "engaging"),
    ("identified", "declined"),
    ("engaging", "ready"),
    ("engaging", "declined"),
    ("ready", "engaging"),
    ("ready", "declined"),
    ("declined", "engaging"),
    ("declined", "ready"),
}
COORDINATOR_ONLY_MOVES = {
    *((status, "closed") for status in OPEN),
    ("closed", "engaging"),
    ("evacuated", "engaging"),
}


def status_url(household) -> str:
    return f"/api/v1/households/{household.id}/status"


def put_in(app, household, status: str, reason: str | None = None) -> None:
    """Put a stored household in ``status``, as earlier moves would have."""
    if status == "closed" and reason is None:
        reason = "duplicate"
    with app.app_context():
        db.session.execute(
            sa.update(Household)
            .where(Household.id == household.id)
            .values(status=status, closed_reason=reason if status == "closed" else None)
        )
        db.session.commit()


def move(app, user, household, status, reason=None, **kwargs) -> Household:
    """Call the service as ``user`` and commit, as a request would."""
    with app.app_context():
        actor = db.session.get(User, user.id)
        try:
            household = lifecycle.change_household_status(
                actor, household.id, status, reason, **kwargs
            )
        except Exception:
            db.session.rollback()
            raise
        db.session.commit()
        return household


def stored(app, household) -> Household:
    with app.app_context():
        return db.session.get(Household, household.id)


def timeline(app, household) -> list[TimelineEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(TimelineEntry)
                .where(
                    TimelineEntry.household_id == household.id,
                    TimelineEntry.kind == "status_changed",
                )
                .order_by(TimelineEntry.recorded_at, TimelineEntry.occurred_at)
            )
        )


def household_events(app, household, after: int) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(
                    AuditEvent.id > after,
                    AuditEvent.entity_type == "households",
                    AuditEvent.entity_id == str(household.id),
                )
                .order_by(AuditEvent.id)
            )
        )


def last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


# --- the table, through the service ------------------------------------------------------


def _outcome(app, user, household, before: str, after: str) -> str:
    put_in(app, household, before)
    reason = None
    if after == "closed":
        reason = "evacuated_and_arrived" if before == "evacuated" else "moved_away"
    try:
        moved = move(app, user, household, after, reason)
    except Forbidden:
        return "403"
    except Conflict as refused:
        assert refused.code == "invalid_transition"
        return "409"
    assert moved.status == after
    return "ok"


@pytest.mark.parametrize("role", ["field_worker", "coordinator"])
def test_every_move_of_the_table_for_each_role(app, role, field_worker, coordinator, household):
    user = {"field_worker": field_worker, "coordinator": coordinator}[role]
    expected_allowed = TEAM_MOVES | (COORDINATOR_ONLY_MOVES if role == "coordinator" else set())
    wrong = []
    for before, after in itertools.product(HOUSEHOLD_STATUSES, repeat=2):
        if (before, after) in expected_allowed:
            expected = "ok"
        elif (before, after) in COORDINATOR_ONLY_MOVES:
            expected = "403"
        else:
            expected = "409"
        got = _outcome(app, user, household, before, after)
        if got != expected:
            wrong.append((before, after, expected, got))
    assert wrong == [], "(from, to, expected, got)"


def test_nobody_makes_a_household_evacuated_by_asking(app, coordinator, field_worker, household):
    for user in (coordinator, field_worker):
        for before in ("engaging", "ready"):
            put_in(app, household, before)
            with pytest.raises(Conflict) as refused:
                move(app, user, household, "evacuated")
            assert refused.value.code == "invalid_transition"
            assert "evacuation arrives" in refused.value.detail
    assert stored(app, household).status == "ready"


def test_an_administrator_moves_nothing(app, admin, household):
    with pytest.raises(Forbidden):
        move(app, admin, household, "engaging")
    assert stored(app, household).status == "identified"


def test_another_teams_household_is_not_found(app, other_field_worker, household):
    with pytest.raises(NotFound):
        move(app, other_field_worker, household, "engaging")
    assert stored(app, household).status == "identified"


def test_a_move_bumps_the_version_and_writes_the_timeline_and_the_audit_trail(
    app, field_worker, household
):
    version = stored(app, household).version
    mark = last_event_id(app)

    moved = move(app, field_worker, household, "engaging")

    assert (moved.status, moved.version) == ("engaging", version + 1)
    assert moved.status_cause == "request"  # what moved it, kept with it
    [entry] = timeline(app, household)
    assert (entry.entity_type, entry.entity_id, entry.actor_id) == (
        "household",
        household.id,
        field_worker.id,
    )
    assert entry.details == {"from": "identified", "to": "engaging", "cause": "request"}
    [event, look] = household_events(app, household, mark)
    assert event.action == "update"
    assert event.details["changed"]["status"] == {"before": "identified", "after": "engaging"}
    assert event.details["changed"]["status_cause"] == {"before": None, "after": "request"}
    # the move answers with the household's record: a look at it, on the record too
    assert (look.action, look.actor_id, look.details) == (
        "read",
        field_worker.id,
        {"via": "household_status"},
    )


def test_closing_records_the_reason_and_keeps_the_note_out_of_the_trail(
    app, coordinator, household
):
    put_in(app, household, "engaging")
    mark = last_event_id(app)

    closed = move(
        app, coordinator, household, "closed", "moved_away", note="  Went west to her aunt  "
    )

    assert (closed.status, closed.closed_reason, closed.closed_note) == (
        "closed",
        "moved_away",
        "Went west to her aunt",
    )
    [entry] = timeline(app, household)
    assert entry.details == {
        "from": "engaging",
        "to": "closed",
        "cause": "request",
        "reason": "moved_away",
    }
    [event, _look] = household_events(app, household, mark)
    assert event.details["changed"]["closed_reason"] == {"before": None, "after": "moved_away"}
    assert event.details["personal_fields"] == ["closed_note"]
    assert "aunt" not in str(event.details)
    assert "aunt" not in str(entry.details)


def test_re_opening_clears_the_reason_and_the_note(app, coordinator, household):
    move(app, coordinator, household, "closed", "duplicate", note="Same family as K7M-4QX")

    reopened = move(app, coordinator, household, "engaging")

    assert (reopened.status, reopened.closed_reason, reopened.closed_note) == (
        "engaging",
        None,
        None,
    )
    assert [(e.details["from"], e.details["to"]) for e in timeline(app, household)] == [
        ("identified", "closed"),
        ("closed", "engaging"),
    ]


@pytest.mark.parametrize(
    ("status", "reason", "note", "field"),
    [
        ("closed", None, None, "reason"),
        ("closed", "gone", None, "reason"),
        ("ready", "moved_away", None, "reason"),
        ("ready", None, "Agreed at last", "note"),
        ("departed", None, None, "status"),
    ],
)
def test_a_reason_belongs_to_closing_only(app, coordinator, household, status, reason, note, field):
    put_in(app, household, "engaging")
    with pytest.raises(Invalid) as invalid:
        move(app, coordinator, household, status, reason, note=note)
    assert field in invalid.value.errors
    assert stored(app, household).status == "engaging"


def test_evacuated_and_arrived_closes_only_an_evacuated_household(app, coordinator, household):
    put_in(app, household, "ready")
    with pytest.raises(Conflict) as refused:
        move(app, coordinator, household, "closed", "evacuated_and_arrived")
    assert refused.value.code == "invalid_transition"
    put_in(app, household, "evacuated")
    assert move(app, coordinator, household, "closed", "evacuated_and_arrived").status == "closed"


def test_the_same_status_again_is_an_invalid_transition(app, field_worker, household):
    put_in(app, household, "ready")
    with pytest.raises(Conflict) as refused:
        move(app, field_worker, household, "ready")
    assert refused.value.code == "invalid_transition"
    assert refused.value.detail == "The household is already ready."


def test_an_arrival_move_needs_a_coordinator_and_an_open_household(
    app, field_worker, coordinator, household
):
    with pytest.raises(Forbidden):
        move(app, field_worker, household, "evacuated", cause="arrival")
    put_in(app, household, "closed")
    with pytest.raises(Conflict):
        move(app, coordinator, household, "evacuated", cause="arrival")
    put_in(app, household, "ready")
    assert move(app, coordinator, household, "evacuated", cause="arrival").status == "evacuated"


# --- through the other steps that move a household ---------------------------------------


def test_a_conversation_on_a_visit_starts_engaging_through_the_same_function(
    app, as_field_worker, field_worker, household
):
    response = as_field_worker.post(
        f"/api/v1/households/{household.id}/visits",
        json={"visited_at": dt.datetime.now(dt.UTC).isoformat(), "outcome": "talked"},
    )
    assert response.status_code == 201, response.get_json()

    assert (stored(app, household).status, stored(app, household).status_cause) == (
        "engaging",
        "visit",
    )
    [entry] = timeline(app, household)
    assert entry.details == {"from": "identified", "to": "engaging", "cause": "visit"}
    assert entry.actor_id == field_worker.id


def _run(app, user, fn, *args):
    with app.app_context():
        actor = db.session.get(User, user.id)
        result = fn(actor, *args)
        db.session.commit()
        return result


def test_an_arrival_evacuates_the_emptied_household_and_a_coordinator_closes_it(
    app,
    as_coordinator,
    coordinator,
    field_worker,
    household,
    make_household,
    make_person,
    make_consent,
    make_evacuation,
    team,
):
    adult = make_person(household, age=40)
    make_consent(field_worker, adult, "self", "granted")
    closed_already = make_household(team=team)
    neighbour = make_person(closed_already, age=50)
    make_consent(field_worker, neighbour, "self", "granted")
    put_in(app, household, "ready")
    evacuation = make_evacuation(team)
    for person in (adult, neighbour):
        with app.app_context():
            evacuation_service.add_member(
                db.session.get(User, coordinator.id), evacuation.id, {"person_id": person.id}
            )
            db.session.commit()
    put_in(app, closed_already, "closed", "moved_away")
    for step in ("depart", "arrive"):
        response = as_coordinator.post(f"/api/v1/evacuations/{evacuation.id}/{step}", json={})
        assert response.status_code == 200, response.get_json()

    assert (stored(app, household).status, stored(app, household).status_cause) == (
        "evacuated",
        "arrival",
    )
    [entry] = timeline(app, household)
    assert entry.details == {"from": "ready", "to": "evacuated", "cause": "arrival"}
    assert entry.actor_id == coordinator.id
    # a household a coordinator closed stays closed
    assert (stored(app, closed_already).status, timeline(app, closed_already)) == ("closed", [])

    closed = as_coordinator.post(
        status_url(household), json={"status": "closed", "reason": "evacuated_and_arrived"}
    )
    assert closed.status_code == 200, closed.get_json()
    assert (closed.get_json()["status"], closed.get_json()["closed_reason"]) == (
        "closed",
        "evacuated_and_arrived",
    )


# --- through HTTP ------------------------------------------------------------------------


def test_the_team_marks_its_household_ready(as_field_worker, household):
    as_field_worker.post(status_url(household), json={"status": "engaging"})
    before = as_field_worker.get(f"/api/v1/households/{household.id}")

    response = as_field_worker.post(status_url(household), json={"status": "ready"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["status"], body["closed_reason"]) == (str(household.id), "ready", None)
    assert body["version"] == before.get_json()["version"] + 1
    assert etag(response) != etag(before)
    shown = as_field_worker.get(f"/api/v1/households/{household.id}")
    assert shown.get_json()["status"] == "ready"
    assert etag(shown) == etag(response)


def test_an_impossible_move_is_409_invalid_transition(as_field_worker, household):
    response = as_field_worker.post(status_url(household), json={"status": "ready"})

    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid_transition"
    assert problem["detail"] == "A household that is identified cannot become ready."


def test_asking_for_evacuated_is_409(as_coordinator, household):
    response = as_coordinator.post(status_url(household), json={"status": "evacuated"})
    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"


def test_a_field_worker_cannot_close_or_re_open(app, as_field_worker, household):
    put_in(app, household, "declined")
    closing = as_field_worker.post(
        status_url(household), json={"status": "closed", "reason": "moved_away"}
    )
    assert closing.status_code == 403
    assert closing.get_json()["code"] == "coordinator_required"
    put_in(app, household, "closed")
    reopening = as_field_worker.post(status_url(household), json={"status": "engaging"})
    assert reopening.status_code == 403
    assert stored(app, household).status == "closed"


def test_an_administrator_gets_403(as_admin, household):
    response = as_admin.post(status_url(household), json={"status": "engaging"})
    assert response.status_code == 403


def test_another_teams_household_is_404(as_other_field_worker, household, app):
    response = as_other_field_worker.post(status_url(household), json={"status": "engaging"})
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    missing = as_other_field_worker.post(
        f"/api/v1/households/{uuid.uuid4()}/status", json={"status": "engaging"}
    )
    assert missing.status_code == 404
    assert stored(app, household).status == "identified"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "closed"}, "reason"),
        ({"status": "closed", "reason": "went_home"}, "reason"),
        ({"status": "paused"}, "status"),
        ({}, "status"),
        ({"status": "closed", "reason": "duplicate", "closed_reason": "x"}, "closed_reason"),
        ({"status": "ready", "reason": "duplicate"}, "reason"),
    ],
)
def test_bad_bodies_are_422(app, as_coordinator, household, body, field):
    put_in(app, household, "engaging")
    response = as_coordinator.post(status_url(household), json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert stored(app, household).status == "engaging"


def test_a_coordinator_closes_with_a_reason_and_re_opens(app, as_coordinator, household):
    put_in(app, household, "declined")
    closed = as_coordinator.post(
        status_url(household),
        json={"status": "closed", "reason": "left_by_other_means", "note": "Left by bus"},
    )
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert (body["status"], body["closed_reason"], body["closed_note"]) == (
        "closed",
        "left_by_other_means",
        "Left by bus",
    )
    assert as_coordinator.get("/api/v1/households", query_string={"status": "closed"}).get_json()[
        "items"
    ][0]["id"] == str(household.id)

    reopened = as_coordinator.post(status_url(household), json={"status": "engaging"})

    assert reopened.status_code == 200, reopened.get_json()
    assert (reopened.get_json()["status"], reopened.get_json()["closed_reason"]) == (
        "engaging",
        None,
    )
    items = as_coordinator.get(f"/api/v1/households/{household.id}/timeline").get_json()["items"]
    assert [(i["kind"], i["details"]["to"]) for i in items] == [
        ("status_changed", "closed"),
        ("status_changed", "engaging"),
    ]
    assert items[0]["details"]["reason"] == "left_by_other_means"


def test_if_match_is_honoured_when_sent(app, as_field_worker, household):
    first = as_field_worker.get(f"/api/v1/households/{household.id}")
    moved = as_field_worker.post(
        status_url(household), json={"status": "engaging"}, headers={"If-Match": etag(first)}
    )
    assert moved.status_code == 200, moved.get_json()

    stale = as_field_worker.post(
        status_url(household), json={"status": "ready"}, headers={"If-Match": etag(first)}
    )

    assert stale.status_code == 412
    assert stale.headers["ETag"] == etag(moved)
    assert stored(app, household).status == "engaging"


def test_a_retried_request_replays_the_first_answer(app, as_field_worker, household):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = as_field_worker.post(status_url(household), json={"status": "declined"}, headers=key)
    again = as_field_worker.post(status_url(household), json={"status": "declined"}, headers=key)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert len(timeline(app, household)) == 1
    other_body = as_field_worker.post(status_url(household), json={"status": "ready"}, headers=key)
    assert other_body.status_code == 422


# --- two people at once ------------------------------------------------------------------


class _Post(threading.Thread):
    def __init__(self, app, token: str, path: str, body: dict, go: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.app, self.token, self.path, self.body, self.go = app, token, path, body, go
        self.status: int | None = None
        self.code: str | None = None

    def run(self) -> None:
        with self.app.test_client() as client:
            self.go.wait(timeout=30)
            response = client.post(
                self.path, json=self.body, headers={"Authorization": f"Bearer {self.token}"}
            )
            self.status = response.status_code
            self.code = (response.get_json() or {}).get("code")


@pytest.mark.commits
@pytest.mark.slow
@pytest.mark.postgres_only
def test_two_coordinators_closing_at_once_close_it_once(
    app, is_postgres, login, coordinator, make_user, make_household, team
):
    if not is_postgres:
        pytest.skip("SQLite runs one writer at a time: nothing to race")
    tokens = [login(coordinator).token, login(make_user("coordinator")).token]
    for _ in range(10):
        household = make_household(team=team)
        put_in(app, household, "ready")
        go = threading.Barrier(2)
        posts = [
            _Post(app, token, status_url(household), {"status": "closed", "reason": r}, go)
            for token, r in zip(tokens, ("moved_away", "duplicate"), strict=True)
        ]
        for post in posts:
            post.start()
        for post in posts:
            post.join(timeout=30)
            assert not post.is_alive()
        assert sorted((p.status, p.code) for p in posts) == [
            (200, None),
            (409, "invalid_transition"),
        ]
        [entry] = timeline(app, household)
        winner = next(p for p in posts if p.status == 200)
        assert stored(app, household).closed_reason == entry.details["reason"]
        assert entry.details["reason"] == winner.body["reason"]
