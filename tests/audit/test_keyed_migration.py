"""Upgrading a database whose events were chained with plain SHA-256: the migration re-seals
the good chain with the audit key, and never seals what is broken or was written in plain
SHA-256 after the chain was keyed. Each case migrates a database of its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from app.audit.models import GENESIS, AuditEvent
from app.audit.service import canonical, event_hash, verify_chain
from app.cli import alembic_config
from tests.conftest import fresh_database

KEYED_REVISION = "a3c81f0e6d27"
KEY = "a-migration-test-audit-key-of-some-length"
TABLE = AuditEvent.__table__


@pytest.fixture
def old_database(tmp_path_factory, monkeypatch):
    """A database at the revision before the keyed chain; upgrading it uses KEY."""
    monkeypatch.setenv("SAFEPASSAGE_AUDIT_KEY", KEY)
    monkeypatch.delenv("SAFEPASSAGE_ENV", raising=False)
    with fresh_database(tmp_path_factory) as url:
        cfg = alembic_config(url)
        before = ScriptDirectory.from_config(cfg).get_revision(KEYED_REVISION).down_revision
        command.upgrade(cfg, before)
        engine = sa.create_engine(url)
        try:
            yield engine, lambda: command.upgrade(cfg, "head")
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


def _stored(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(TABLE).order_by(TABLE.c.id))]


def _verify(engine, key: str = KEY):
    with engine.connect() as conn:
        return verify_chain(key=key.encode(), connection=conn)


def test_a_plain_chain_is_resealed_with_the_key(old_database):
    engine, upgrade = old_database
    events = _chain(["plain"] * 4 + ["keyed"] * 2)  # newer code ran before the upgrade
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE), events)
    assert not _verify(engine).ok

    upgrade()

    result = _verify(engine)
    assert (result.ok, result.checked) == (True, 6)
    stored = _stored(engine)
    assert all(s["hash"] != e["hash"] for s, e in zip(stored, events, strict=True))
    assert [s["details"] for s in stored] == [e["details"] for e in events]
    # keyed, not plain: the same chain fails under any other key
    assert not _verify(engine, "some-other-key-that-is-long-enough-too").ok
    # the append-only triggers are back
    with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
        conn.execute(sa.update(TABLE).where(TABLE.c.id == 2).values(action="delete"))


def test_plain_hashes_after_keyed_ones_are_never_sealed(old_database, caplog):
    """Someone rewrote keyed events with plain SHA-256 and hopes a (re-)run seals them."""
    engine, upgrade = old_database
    events = _chain(["keyed"] * 3 + ["plain"] * 3)
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE), events)

    upgrade()

    result = _verify(engine)
    assert (result.ok, result.first_broken_id) == (False, 4)
    assert "event 4 was altered" in result.problem
    assert [s["hash"] for s in _stored(engine)] == [e["hash"] for e in events]
    assert any(
        "BROKEN at event 4" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )


def test_a_broken_plain_chain_is_sealed_only_up_to_the_break(old_database):
    engine, upgrade = old_database
    events = _chain(["plain"] * 5)
    events[2]["details"] = {"changed": {}}  # edited after it was hashed
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE), events)

    upgrade()

    result = _verify(engine)
    assert (result.ok, result.first_broken_id) == (False, 3)
    stored = _stored(engine)
    assert [s["hash"] == e["hash"] for s, e in zip(stored, events, strict=True)] == [
        False,
        False,
        True,
        True,
        True,
    ]
