"""Someone who holds the database rewrites the trail as well as they can: verify still fails.

Each tampering is done directly in SQL, with the append-only triggers stepped around as
the database's superuser could, and then the chain is "repaired" the way an attacker
without the audit key would: every following hash recomputed with plain SHA-256, or with
a guessed key. ``audit verify --checkpoint FILE`` (a checkpoint taken before the
tampering, kept outside the database) must exit 1 and say where. The table is put back
as it was after each test: the suite's audit trail only grows and must stay verifiable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit.chain import canonical
from app.audit.models import AuditEvent
from app.extensions import db
from tests.audit.test_tampering import as_superuser
from tests.http_helpers import etag_of

pytestmark = pytest.mark.commits

TABLE = AuditEvent.__table__
GUESSED_KEY = b"an-attackers-best-guess-at-the-audit-key"


def plain_sha256(event: dict) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def guessed_key(event: dict) -> str:
    return hmac.new(GUESSED_KEY, canonical(event), hashlib.sha256).hexdigest()


forgers = pytest.mark.parametrize(
    "forge", [plain_sha256, guessed_key], ids=["plain-sha256", "guessed-key"]
)


@dataclass
class Trail:
    #: the newest events' ids, oldest first; the checkpoint saw the last of them as head
    ids: list[int]
    checkpoint: Path


def _cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["audit", *args])


def verify(app, trail: Trail | None = None):
    args = ["verify"] + (["--checkpoint", str(trail.checkpoint)] if trail else [])
    return _cli(app, *args)


def _rows(conn, first_id: int) -> list[dict]:
    rows = conn.execute(sa.select(TABLE).where(TABLE.c.id >= first_id).order_by(TABLE.c.id))
    return [dict(row._mapping) for row in rows]


def _set_id(conn, old: int, new: int) -> None:
    conn.execute(sa.update(TABLE).where(TABLE.c.id == old).values(id=new))


def rechain(conn, from_id: int, forge) -> None:
    """Recompute prev_hash and hash from ``from_id`` on, as an attacker without the key can."""
    prev_hash = conn.execute(sa.select(TABLE.c.hash).where(TABLE.c.id == from_id - 1)).scalar()
    for event in _rows(conn, from_id):
        event["prev_hash"] = prev_hash
        event["hash"] = prev_hash = forge(event)
        conn.execute(
            sa.update(TABLE)
            .where(TABLE.c.id == event["id"])
            .values(prev_hash=event["prev_hash"], hash=event["hash"])
        )


@pytest.fixture
def trail(app, as_field_worker, make_household, team, tmp_path):
    household = make_household(team=team)
    for priority in ("high", "urgent", "low", "normal"):
        version = as_field_worker.get(f"/api/v1/households/{household.id}").headers["ETag"]
        response = as_field_worker.patch(
            f"/api/v1/households/{household.id}",
            json={"priority": priority},
            headers={"If-Match": version},
        )
        assert response.status_code == 200
    with app.app_context():
        ids = sorted(
            db.session.scalars(sa.select(TABLE.c.id).order_by(TABLE.c.id.desc()).limit(5)).all()
        )
    # the operator's checkpoint of the head, kept away from the database
    taken = _cli(app, "checkpoint")
    assert taken.exit_code == 0, taken.output
    assert json.loads(taken.stdout)["sequence"] == ids[-1]
    path = tmp_path / "checkpoints.jsonl"
    path.write_text(taken.stdout)
    original = taken.stdout
    with db.engine.connect() as conn:
        saved = _rows(conn, ids[0])
    assert verify(app, Trail(ids, path)).exit_code == 0

    yield Trail(ids, path)

    db.session.remove()
    path.write_text(original)
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(sa.or_(TABLE.c.id >= ids[0], TABLE.c.id < 1)))
        conn.execute(sa.insert(TABLE), saved)
    restored = verify(app, Trail(ids, path))
    assert restored.exit_code == 0, restored.output


def _assert_broken_at(app, trail: Trail, event_id: int, words: str) -> None:
    for result in (verify(app, trail), verify(app)):
        assert result.exit_code == 1, result.output
        assert f"BROKEN at event {event_id}:" in result.output
        assert words in result.output


@forgers
def test_an_edited_event_with_the_chain_recomputed_is_found(app, as_admin, trail, forge):
    target = trail.ids[1]
    with as_superuser() as conn:
        conn.execute(
            sa.update(TABLE)
            .where(TABLE.c.id == target)
            .values(details={"changed": {"priority": {"before": "normal", "after": "low"}}})
        )
        rechain(conn, target, forge)
    _assert_broken_at(app, trail, target, "was altered")
    # nor will the operator's next checkpoint bless the forged head
    refused = _cli(app, "checkpoint")
    assert refused.exit_code == 1
    assert f"no checkpoint taken: audit chain BROKEN at event {target}:" in refused.output
    assert refused.stdout == ""
    verdict = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert verdict["ok"] is False
    assert verdict["first_broken_id"] == target
    assert f"event {target} was altered" in verdict["problem"]


@forgers
def test_an_inserted_event_is_found(app, trail, forge):
    at = trail.ids[2]
    with as_superuser() as conn:
        forged = {**_rows(conn, at)[0], "details": {"changed": {}}, "action": "delete"}
        for event_id in sorted(trail.ids[2:], reverse=True):
            _set_id(conn, event_id, event_id + 1)
        conn.execute(sa.insert(TABLE).values({**forged, "hash": "f" * 64}))
        rechain(conn, at, forge)
    _assert_broken_at(app, trail, at, "was altered")


@forgers
def test_two_reordered_events_are_found(app, trail, forge):
    first, second = trail.ids[1], trail.ids[2]
    with as_superuser() as conn:
        parking = 10**12 + first  # ids below 1 are refused on PostgreSQL (a CHECK)
        _set_id(conn, first, parking)
        _set_id(conn, second, first)
        _set_id(conn, parking, second)
        rechain(conn, first, forge)
    _assert_broken_at(app, trail, first, "was altered")


@forgers
def test_an_event_deleted_from_the_middle_is_found(app, trail, forge):
    gone = trail.ids[2]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id == gone))
        for event_id in trail.ids[3:]:
            _set_id(conn, event_id, event_id - 1)
        rechain(conn, gone, forge)
    _assert_broken_at(app, trail, gone, "was altered")


def test_a_gap_left_by_a_deleted_event_is_named(app, trail):
    gone = trail.ids[2]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id == gone))
    result = verify(app, trail)
    assert result.exit_code == 1
    assert f"event {gone} is missing (the next one is event {trail.ids[3]})" in result.output


def test_the_newest_events_deleted_are_found_only_with_a_checkpoint(app, as_admin, trail):
    kept = trail.ids[-3]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id > kept))
    # the chain alone cannot tell: what is left is a whole, valid chain
    assert verify(app).exit_code == 0
    result = verify(app, trail)
    assert result.exit_code == 1, result.output
    assert f"BROKEN at event {kept + 1}:" in result.output
    assert f"the chain ends at event {kept}" in result.output
    assert f"events {kept + 1} to {trail.ids[-1]} were deleted" in result.output


def test_a_chain_cut_back_and_grown_again_is_found(
    app, trail, as_field_worker, make_household, team
):
    """The newest events are deleted, then the service appends new ones in their place: the
    chain is whole and keyed again, but not the one the checkpoint saw."""
    kept = trail.ids[-3]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id > kept))
    household = make_household(team=team)
    url = f"/api/v1/households/{household.id}"
    etag = etag_of(as_field_worker, url)
    for priority in ("high", "urgent", "low"):
        response = as_field_worker.patch(
            url, json={"priority": priority}, headers={"If-Match": etag}
        )
        assert response.status_code == 200
        etag = response.headers["ETag"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(TABLE.c.id))) > trail.ids[-1]
    assert verify(app).exit_code == 0
    result = verify(app, trail)
    assert result.exit_code == 1
    assert f"BROKEN at event {trail.ids[-1]}: event {trail.ids[-1]} is not the one" in result.output
    assert "cut back" in result.output


def test_a_forged_checkpoint_is_refused(app, trail):
    real = json.loads(trail.checkpoint.read_text())
    for forged in (
        {**real, "sequence": real["sequence"] + 1},
        {**real, "hash": "0" * 64},
        {**real, "time": "2030-01-01T00:00:00.000000+00:00"},
        {**real, "mac": hashlib.sha256(b"anything").hexdigest()},
    ):
        trail.checkpoint.write_text(json.dumps(forged) + "\n")
        result = verify(app, trail)
        assert result.exit_code == 1, forged
        assert "forged or was made with another key" in result.output
    # one made with a key the attacker chose is no better
    from app.audit.checkpoints import make_checkpoint

    made = make_checkpoint(GUESSED_KEY, real["sequence"] - 2, "a" * 64)
    trail.checkpoint.write_text(made.as_json() + "\n")
    assert verify(app, trail).exit_code == 1


def test_a_damaged_or_missing_checkpoint_file_fails_verify(app, trail, tmp_path):
    trail.checkpoint.write_text(trail.checkpoint.read_text() + '{"sequence": 1, "ha\n')
    result = verify(app, trail)
    assert result.exit_code == 1
    assert "line 2: not a checkpoint" in result.output
    result = _cli(app, "verify", "--checkpoint", str(tmp_path / "nowhere.jsonl"))
    assert result.exit_code == 1
    assert "cannot be read" in result.output


def test_the_api_checks_the_services_own_checkpoints(app, as_admin, trail, monkeypatch):
    """With AUDIT_CHECKPOINT_PATH set, the API's verify finds the newest events deleted too."""
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_PATH", str(trail.checkpoint))
    assert as_admin.get("/api/v1/audit-events/verify").get_json() == {
        "ok": True,
        "checked": trail.ids[-1],
        "first_broken_id": None,
        "checkpoints": 1,
        "problem": None,
    }
    kept = trail.ids[-2]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id > kept))
    verdict = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert verdict["ok"] is False
    assert verdict["checked"] == kept
    assert verdict["first_broken_id"] == trail.ids[-1]
    assert f"event {trail.ids[-1]} was deleted" in verdict["problem"]


POSITIVE_ID = "ck_audit_events_positive_id"


@forgers
def test_events_outside_the_chain_are_found(app, as_admin, trail, forge, is_postgres):
    """Events with ids 0 and below, inserted past the CHECK as the table's owner could: the
    walk of ids 1..N alone would never read them; verify names them."""
    with as_superuser() as conn:
        if is_postgres:
            conn.exec_driver_sql(f"ALTER TABLE audit_events DROP CONSTRAINT {POSITIVE_ID}")
        template = _rows(conn, trail.ids[0])[0]
        for event_id in (0, -7):
            event = {**template, "id": event_id, "action": "read", "prev_hash": "0" * 64}
            conn.execute(sa.insert(TABLE).values({**event, "hash": forge(event)}))
    try:
        _assert_broken_at(app, trail, -7, "2 event(s) with an id below 1 (-7, 0)")
        verdict = as_admin.get("/api/v1/audit-events/verify").get_json()
        assert (verdict["ok"], verdict["first_broken_id"]) == (False, -7)
        refused = _cli(app, "checkpoint")
        assert refused.exit_code == 1
        assert "no checkpoint taken: audit chain BROKEN at event -7:" in refused.output
    finally:
        with as_superuser() as conn:
            conn.execute(sa.delete(TABLE).where(TABLE.c.id < 1))
            if is_postgres:
                conn.exec_driver_sql(
                    f"ALTER TABLE audit_events ADD CONSTRAINT {POSITIVE_ID} CHECK (id > 0)"
                )


@pytest.mark.postgres_only
@pytest.mark.parametrize("event_id", [0, -7])
def test_postgresql_refuses_an_event_outside_the_chain(app, trail, is_postgres, event_id):
    """Even with the append-only triggers off, the CHECK stands: no role short of the
    table's owner can insert an event outside the chain."""
    if not is_postgres:
        pytest.skip("the CHECK on audit event ids is PostgreSQL's (SQLite: verify only)")
    with pytest.raises(sa.exc.IntegrityError, match=POSITIVE_ID), as_superuser() as conn:
        template = _rows(conn, trail.ids[0])[0]
        conn.execute(sa.insert(TABLE).values({**template, "id": event_id, "hash": "e" * 64}))


def test_a_checkpoint_is_refused_for_a_chain_cut_since_an_earlier_one(app, trail):
    """``audit checkpoint`` verifies the trail first: after the newest events were cut, it
    vouches for nothing, though what is left is a whole chain."""
    kept = trail.ids[-3]
    with as_superuser() as conn:
        conn.execute(sa.delete(TABLE).where(TABLE.c.id > kept))
    refused = _cli(app, "checkpoint", "--checkpoint", str(trail.checkpoint))
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert f"no checkpoint taken: audit chain BROKEN at event {kept + 1}:" in refused.output
    assert f"events {kept + 1} to {trail.ids[-1]} were deleted" in refused.output
    # without the earlier checkpoint it cannot tell, as `audit verify` cannot
    taken = _cli(app, "checkpoint")
    assert taken.exit_code == 0
    assert json.loads(taken.stdout)["sequence"] == kept
