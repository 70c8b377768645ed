"""A trail from before the keyed chain (plain SHA-256 links): ``audit reseal-legacy`` seals
it with the audit key, once, at the operator's explicit request — never a trail that was
keyed already (keyed links or checkpoints exist) and never past a break. No migration
re-seals anything. Each case uses a migrated database and an app of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from app.audit.chain import canonical, event_hash, verify_chain
from app.audit.models import GENESIS, AuditEvent
from app.cli import alembic_config
from config.defaults import DEFAULT_AUDIT_KEY
from tests.built_app import built_app
from tests.conftest import fresh_database

KEY = "a-reseal-test-audit-key-of-some-length-3e9a"
TABLE = AuditEvent.__table__


class Legacy:
    def __init__(self, app, engine, checkpoint_path):
        self.app, self.engine, self.checkpoint_path = app, engine, checkpoint_path

    def insert(self, events: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(TABLE), events)

    def stored(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(TABLE).order_by(TABLE.c.id))
            return [dict(r._mapping) for r in rows]

    def verify(self, key: str = KEY):
        with self.engine.connect() as conn:
            return verify_chain(key=key.encode(), connection=conn)

    def cli(self, *args: str):
        return self.app.test_cli_runner().invoke(args=["audit", *args])


@pytest.fixture
def legacy(tmp_path_factory, tmp_path):
    """A database at head holding no events yet, and an app using KEY and a checkpoint path."""
    with fresh_database(tmp_path_factory) as url:
        command.upgrade(alembic_config(url), "head")
        checkpoint_path = tmp_path / "audit-checkpoints.jsonl"
        settings = {
            "ENV": "testing",
            "DATABASE_URL": url,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "AUDIT_KEY": KEY,
            "AUDIT_CHECKPOINT_PATH": str(checkpoint_path),
        }
        engine = sa.create_engine(url)
        try:
            with built_app(settings) as app:
                yield Legacy(app, engine, checkpoint_path)
        finally:
            engine.dispose()


def _chain(kinds: list[str]) -> list[dict]:
    """Events 1..n, each sealed as ``kinds`` says: "plain" SHA-256 or "keyed" with KEY."""
    events, prev_hash = [], GENESIS
    for number, kind in enumerate(kinds, start=1):
        event = {
            "id": number,
            "occurred_at": dt.datetime(2026, 11, 20, 9, number, 7, 123456, tzinfo=dt.UTC),
            "actor_id": uuid.uuid4(),
            "action": "update",
            "entity_type": "households",
            "entity_id": str(uuid.uuid4()),
            "request_id": f"tablet3-req-{number:04d}",
            "details": {"changed": {"priority": {"before": "normal", "after": "high"}}},
            "prev_hash": prev_hash,
        }
        if kind == "plain":
            event["hash"] = hashlib.sha256(canonical(event)).hexdigest()
        else:
            event["hash"] = event_hash(event, KEY.encode())
        prev_hash = event["hash"]
        events.append(event)
    return events


def test_a_plain_chain_is_sealed_with_the_key_once(legacy):
    events = _chain(["plain"] * 5)
    legacy.insert(events)
    assert not legacy.verify().ok

    result = legacy.cli("reseal-legacy")

    assert result.exit_code == 0, result.output
    assert "5 event(s) sealed with the audit key" in result.stderr
    stored = legacy.stored()
    # the five, re-sealed, and one event recording the re-sealing: the new head
    assert [s["details"] for s in stored[:5]] == [e["details"] for e in events]
    assert all(s["hash"] != e["hash"] for s, e in zip(stored, events, strict=False))
    assert (stored[5]["id"], stored[5]["action"]) == (6, "reseal_legacy")
    assert stored[5]["details"] == {"sealed": 5, "broken_at": None}
    checkpoint = json.loads(result.stdout)
    assert (checkpoint["sequence"], checkpoint["hash"]) == (6, stored[5]["hash"])
    # written where the service keeps its own checkpoints too
    assert legacy.checkpoint_path.read_text().strip() == result.stdout.strip()
    verified = legacy.cli("verify")
    assert verified.exit_code == 0, verified.output
    assert "6 event(s) checked against 1 checkpoint(s)" in verified.output
    # keyed, not plain: the same chain fails under any other key
    assert not legacy.verify("some-other-key-that-is-long-enough-too").ok
    # the append-only triggers are back
    with pytest.raises(sa.exc.DatabaseError), legacy.engine.begin() as conn:
        conn.execute(sa.update(TABLE).where(TABLE.c.id == 2).values(action="delete"))
    # once only: a second run finds the checkpoint (and keyed links) and refuses
    again = legacy.cli("reseal-legacy")
    assert again.exit_code == 1
    assert "refused:" in again.output
    legacy.checkpoint_path.unlink()
    again = legacy.cli("reseal-legacy")
    assert again.exit_code == 1
    assert "event 1 carries a keyed link: the chain is keyed already" in again.output


def test_a_chain_with_keyed_links_is_refused(legacy):
    """Keyed events exist: the chain was keyed, and any plain link in it was written since
    by someone without the key (or, here, the upgraded service already ran)."""
    events = _chain(["plain"] * 3 + ["keyed"] * 2)
    legacy.insert(events)

    result = legacy.cli("reseal-legacy")

    assert result.exit_code == 1
    assert "refused: event 4 carries a keyed link" in result.output
    assert result.stdout == ""
    assert [s["hash"] for s in legacy.stored()] == [e["hash"] for e in events]
    assert not legacy.checkpoint_path.exists()


def test_a_trail_with_checkpoints_is_refused(legacy, tmp_path, monkeypatch):
    """An attacker rewrote the whole keyed chain in plain SHA-256: checkpoints exist (they
    are taken only of a keyed chain), so nothing is sealed."""
    events = _chain(["plain"] * 4)
    legacy.insert(events)
    earlier = '{"sequence":4,"hash":"' + "ab" * 32 + '","time":"t","mac":"' + "cd" * 32 + '"}\n'

    legacy.checkpoint_path.write_text(earlier)
    result = legacy.cli("reseal-legacy")
    assert result.exit_code == 1
    assert f"refused: {legacy.checkpoint_path} holds checkpoints" in result.output

    # a copy kept elsewhere, named by the operator, counts as much
    legacy.checkpoint_path.unlink()
    shipped = tmp_path / "shipped-checkpoints.jsonl"
    shipped.write_text(earlier)
    monkeypatch.setitem(legacy.app.config, "AUDIT_CHECKPOINT_PATH", "")
    result = legacy.cli("reseal-legacy", "--checkpoint", str(shipped))
    assert result.exit_code == 1
    assert f"refused: {shipped} holds checkpoints" in result.output

    assert [s["hash"] for s in legacy.stored()] == [e["hash"] for e in events]


def test_a_broken_plain_chain_is_sealed_only_up_to_the_break(legacy):
    events = _chain(["plain"] * 5)
    events[2]["details"] = {"changed": {}}  # edited after it was hashed
    legacy.insert(events)

    result = legacy.cli("reseal-legacy")

    assert result.exit_code == 1
    assert "2 event(s) sealed with the audit key" in result.stderr
    assert "audit chain BROKEN at event 3" in result.stderr
    stored = legacy.stored()
    assert [s["hash"] == e["hash"] for s, e in zip(stored, events, strict=False)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    # the checkpoint pins what was sealed, nothing after it
    checkpoint = json.loads(result.stdout)
    assert (checkpoint["sequence"], checkpoint["hash"]) == (2, stored[1]["hash"])
    verdict = legacy.verify()
    assert (verdict.ok, verdict.first_broken_id) == (False, 3)
    assert "event 3 does not follow event 2" in verdict.problem
    verified = legacy.cli("verify")
    assert verified.exit_code == 1
    assert "BROKEN at event 3" in verified.output


def test_a_chain_broken_at_its_first_event_is_left_alone(legacy):
    events = _chain(["plain"] * 3)
    events[0]["action"] = "delete"
    legacy.insert(events)
    result = legacy.cli("reseal-legacy")
    assert result.exit_code == 1
    assert "refused: event 1 does not fit the plain chain" in result.output
    assert [s["hash"] for s in legacy.stored()] == [e["hash"] for e in events]


def test_the_development_key_is_refused_outside_development(legacy, monkeypatch):
    events = _chain(["plain"] * 2)
    legacy.insert(events)
    monkeypatch.setitem(legacy.app.config, "AUDIT_KEY", DEFAULT_AUDIT_KEY)
    monkeypatch.setitem(legacy.app.config, "ENV", "production")
    result = legacy.cli("reseal-legacy")
    assert result.exit_code == 1
    assert "public development key" in result.output
    assert [s["hash"] for s in legacy.stored()] == [e["hash"] for e in events]
