"""The per-team change feed: a team's committed changes, in commit order, names only.

Devices of a team will sync from it (``changes_for_team``: what came after the last
``seq`` they saw); another team's changes are never in it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from app.changes.feed import changes_for_team
from app.changes.models import ChangeFeedEntry
from app.extensions import db


def ok(response, status=201) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def feed_of(app, team, after_seq: int = 0, limit: int = 500) -> list[ChangeFeedEntry]:
    with app.app_context():
        return changes_for_team(team.id, after_seq, limit)


@pytest.fixture
def two_teams(recorded, as_field_worker, as_other_field_worker):
    """Work of Team North and Team South, interleaved, each request its own commit."""
    north = ok(as_field_worker.post("/api/v1/households", json={"locality": "Riverside"}))
    south = ok(as_other_field_worker.post("/api/v1/households", json={"locality": "Southgate"}))
    north_member = ok(
        as_field_worker.post(
            f"/api/v1/households/{north['id']}/members",
            json={"full_name": "Sofiia Hrytsenko", "estimated_age": 33},
        )
    )
    ok(
        as_other_field_worker.post(
            f"/api/v1/households/{south['id']}/members",
            json={"full_name": "Bohdan Lysenko", "estimated_age": 61},
        )
    )
    visit = ok(
        as_field_worker.post(
            f"/api/v1/households/{north['id']}/visits",
            json={"visited_at": dt.datetime.now(dt.UTC).isoformat(), "outcome": "no_contact"},
        )
    )
    return {"north": north, "south": south, "member": north_member, "visit": visit}


def test_a_team_reads_its_own_changes_in_commit_order(app, recorded, two_teams, team, other_team):
    north = feed_of(app, team)

    assert [(e.entity, e.action, e.entity_id) for e in north] == [
        ("households", "create", two_teams["north"]["id"]),
        ("persons", "create", two_teams["member"]["id"]),
        ("visits", "create", two_teams["visit"]["id"]),
        ("households", "update", two_teams["north"]["id"]),  # its last visit
    ]
    assert {e.team_id for e in north} == {team.id}
    assert {str(e.household_id) for e in north} == {two_teams["north"]["id"]}
    assert north[1].person_id is not None and str(north[1].person_id) == two_teams["member"]["id"]
    seqs = [e.seq for e in north]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    committed = [e.committed_at for e in north]
    assert committed == sorted(committed)
    # the same changes, in the same order, as the stream handed its consumers
    streamed = [
        (c.entity, c.action, c.entity_id, c.fields)
        for unit in recorded
        for c in unit
        if c.team_id == team.id
    ]
    assert [(e.entity, e.action, e.entity_id, tuple(e.fields)) for e in north] == streamed

    # another team's changes are not in it, and its own feed holds only its own
    south = feed_of(app, other_team)
    assert [(e.entity, e.action) for e in south] == [
        ("households", "create"),
        ("persons", "create"),
    ]
    assert {e.team_id for e in south} == {other_team.id}
    assert not {e.seq for e in south} & set(seqs)
    # the two teams' seqs interleave as their commits did
    assert seqs[0] < south[0].seq < seqs[1] < south[1].seq < seqs[2]


def test_reading_on_from_the_last_seq_seen(app, two_teams, team):
    def seqs(entries) -> list[int]:
        return [e.seq for e in entries]

    everything = seqs(feed_of(app, team))

    assert seqs(feed_of(app, team, after_seq=everything[0], limit=2)) == everything[1:3]
    assert seqs(feed_of(app, team, after_seq=everything[-1])) == []
    assert seqs(feed_of(app, team, limit=1)) == everything[:1]


def test_the_feed_names_fields_and_never_holds_their_values(app, two_teams, team):
    north = feed_of(app, team)

    member = next(e for e in north if e.entity == "persons")
    assert {"full_name", "date_of_birth", "status", "household_id"} <= set(member.fields)
    with app.app_context():
        rows = db.session.execute(sa.select(ChangeFeedEntry.__table__)).mappings().all()
    text = json.dumps([dict(r) for r in rows], default=str)
    for private in ("Sofiia", "Hrytsenko", "Bohdan", "Lysenko", "Riverside", "Southgate"):
        assert private not in text


def test_what_belongs_to_no_team_is_in_no_feed(app, as_coordinator, make_offer, team):
    before = feed_of(app, team)
    with app.app_context():
        rows_before = db.session.scalar(sa.select(sa.func.count()).select_from(ChangeFeedEntry))

    ok(as_coordinator.post("/api/v1/households", json={"locality": "Outskirts", "team_id": None}))
    make_offer()

    with app.app_context():
        rows_after = db.session.scalar(sa.select(sa.func.count()).select_from(ChangeFeedEntry))
    assert rows_after == rows_before
    assert [e.seq for e in feed_of(app, team)] == [e.seq for e in before]


def test_an_evacuation_is_in_its_teams_feed(app, as_coordinator, team, other_team):
    evacuation = ok(
        as_coordinator.post(
            "/api/v1/evacuations",
            json={
                "team_id": str(team.id),
                "planned_departure": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(),
                "mode": "vehicle",
                "meeting_point": "Behind the bakery",
            },
        )
    )

    [entry] = feed_of(app, team)
    assert (entry.entity, entry.action, entry.entity_id) == (
        "evacuations",
        "create",
        evacuation["id"],
    )
    assert (entry.household_id, entry.person_id) == (None, None)
    assert "meeting_point" in entry.fields
    assert feed_of(app, other_team) == []
