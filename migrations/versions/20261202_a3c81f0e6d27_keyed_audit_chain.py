"""Key the audit chain: re-seal events chained with plain SHA-256 under the audit key

From this revision on, every event's hash is HMAC-SHA256 under SAFEPASSAGE_AUDIT_KEY,
which is not in the database. Events written before were chained with plain SHA-256,
which anyone holding the database can recompute. This migration, run by the schema owner
with the audit key configured, walks the chain once from event 1:

* it accepts a plain SHA-256 link only in an unbroken run from event 1, before any keyed
  link (events written by older code; the newer code may have appended keyed events after
  them before this ran), and a keyed link anywhere;
* it re-seals every accepted event with the key (new prev_hash and hash), with the
  append-only triggers off for the length of this transaction;
* it stops at the first event that fits neither, or a plain link after a keyed one, and
  leaves that event and all after it as they are: ``audit verify`` names it from then on.
  Nothing that is broken, and nothing written in plain SHA-256 after the chain was keyed
  (someone rewriting keyed events and hoping a re-run would seal them), is ever sealed.

Taking a checkpoint right after upgrading (``flask --app wsgi audit checkpoint``) pins the
re-sealed chain. Downgrading leaves the keyed hashes as they are: rewriting them as plain
SHA-256 is the very downgrade the key is there to prevent (code older than this revision
reports the keyed chain as broken).

Revision ID: a3c81f0e6d27
Revises: aad2d12209c3
Create Date: 2026-12-02 12:00:00.000000
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "a3c81f0e6d27"
down_revision: str | Sequence[str] | None = "aad2d12209c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

GENESIS = "0" * 64
BATCH = 5000

events = sa.table(
    "audit_events",
    sa.column("id", sa.BigInteger()),
    sa.column("occurred_at", app.db.UTCDateTime()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _canonical(event: dict) -> bytes:
    """The chain's canonical form at this revision (app.audit.service.canonical)."""
    body = {
        "id": event["id"],
        "occurred_at": event["occurred_at"].astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": None if event["actor_id"] is None else str(event["actor_id"]),
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": event["entity_id"],
        "request_id": event["request_id"],
        "details": event["details"],
        "prev_hash": event["prev_hash"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _audit_key() -> bytes:
    """The key of the app running ``flask db upgrade``, or of the environment's settings."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config["AUDIT_KEY"].encode()
    import config

    return config.load()["AUDIT_KEY"].encode()


def _rows(bind: sa.Connection):
    last_id = 0
    while True:
        rows = (
            bind.execute(
                sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        yield from (dict(row) for row in rows)
        last_id = rows[-1]["id"]


def _reseal(bind: sa.Connection, key: bytes) -> tuple[int, int | None]:
    """Re-seal the chain's good prefix; returns how many events, and where it stopped."""
    update = (
        sa.update(events)
        .where(events.c.id == sa.bindparam("b_id"))
        .values(prev_hash=sa.bindparam("b_prev_hash"), hash=sa.bindparam("b_hash"))
    )
    old_prev = new_prev = GENESIS
    expected_id = 1
    plain_allowed = True
    sealed = 0
    pending: list[dict] = []
    stopped_at = None
    for event in _rows(bind):
        if event["id"] != expected_id or event["prev_hash"] != old_prev:
            stopped_at = event["id"]
            break
        body = _canonical(event)
        if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), event["hash"]):
            plain_allowed = False
        elif not (plain_allowed and hashlib.sha256(body).hexdigest() == event["hash"]):
            stopped_at = event["id"]
            break
        new_hash = hmac.new(
            key, _canonical({**event, "prev_hash": new_prev}), hashlib.sha256
        ).hexdigest()
        if (new_prev, new_hash) != (event["prev_hash"], event["hash"]):
            pending.append({"b_id": event["id"], "b_prev_hash": new_prev, "b_hash": new_hash})
        old_prev, new_prev = event["hash"], new_hash
        expected_id += 1
        sealed += 1
        if len(pending) >= BATCH:
            bind.execute(update, pending)
            pending = []
    if pending:
        bind.execute(update, pending)
    return sealed, stopped_at


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0:
        return
    key = _audit_key()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        sealed, stopped_at = _reseal(bind, key)
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
    else:
        triggers = bind.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'audit_events'"
        ).all()
        for name, _ in triggers:
            op.execute(f"DROP TRIGGER {name}")
        sealed, stopped_at = _reseal(bind, key)
        for _, sql in triggers:
            op.execute(sql)
    logger.info("audit chain: %s event(s) sealed with the audit key", sealed)
    if stopped_at is not None:
        logger.warning(
            "audit chain BROKEN at event %s before it was keyed: that event and those after "
            "it were left as found (run `flask --app wsgi audit verify`)",
            stopped_at,
        )


def downgrade() -> None:
    """The keyed hashes stay: see the module's docstring."""
