"""Sealing a trail written before the chain was keyed: ``flask --app wsgi audit reseal-legacy``.

Events written by releases before the keyed chain were chained with plain SHA-256, which
anyone holding the database can recompute. This one-time operator command re-seals them
under the audit key. It is deliberately not a migration: a routine ``db upgrade`` (or a
downgrade and upgrade, or ``alembic_version`` set back by someone holding the database)
must never seal a chain that an attacker rewrote in plain SHA-256.

So it refuses to run

* with the development audit key outside development and testing;
* when any event already carries a keyed link: the chain is keyed, and whatever plain
  links it holds were written since, by someone without the key;
* when any checkpoint exists, in ``AUDIT_CHECKPOINT_PATH`` or in a file the operator
  names: checkpoints are taken only of a keyed chain.

It verifies the plain chain from event 1 and re-seals only its unbroken run from there
(consecutive ids, each linking to the one before, each hash the plain SHA-256 of its
contents): nothing after the first break is sealed, and ``audit verify`` names that break
from then on. It works as the schema owner, in one transaction, under the chain's append
lock; the append-only triggers are off only inside that transaction. It appends one
keyed ``reseal_legacy`` event saying what it did, and the caller then takes a checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from app.audit.chain import canonical, sealer
from app.audit.models import GENESIS, AuditEvent
from app.audit.service import APPEND_LOCK_KEY
from app.db import utcnow

TABLE = AuditEvent.__table__
BATCH = 5000


class ResealRefused(Exception):
    """The trail is not one this command may seal; the message says why."""


@dataclass(frozen=True)
class Resealed:
    #: Events sealed, 1..sealed.
    sealed: int
    #: The first event of the plain chain that did not fit (left as found), if any.
    broken_at: int | None
    #: The hash event ``sealed`` now has (GENESIS when none was sealed).
    run_hash: str
    #: The event this command appended to record itself, and its hash: the new head.
    head_id: int
    head_hash: str


def refuse_if_checkpoints(paths: list[str]) -> None:
    """Any checkpoint at all means the chain was keyed already: refuse."""
    for path in paths:
        file = Path(path)
        if not file.exists():
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ResealRefused(f"{path}: cannot be read ({exc})") from None
        if text.strip():
            raise ResealRefused(
                f"{path} holds checkpoints: checkpoints are taken only of a keyed chain, so "
                "this trail was keyed already (reseal-legacy is for trails from before it)"
            )


def _events(connection: sa.Connection, first_id: int | None = None) -> Iterator[dict]:
    """Every event in id order, in batches; from ``first_id`` on, or all of them."""
    last_id = None if first_id is None else first_id - 1
    while True:
        stmt = sa.select(TABLE).order_by(TABLE.c.id).limit(BATCH)
        if last_id is not None:
            stmt = stmt.where(TABLE.c.id > last_id)
        rows = connection.execute(stmt).mappings().all()
        if not rows:
            return
        yield from (dict(row) for row in rows)
        last_id = rows[-1]["id"]


def _survey(connection: sa.Connection, seal) -> tuple[int, int | None]:
    """How long the plain run from event 1 is, and where it stops; refuses on a keyed link.

    Every row is read, whatever its id: a keyed link anywhere means the chain is keyed.
    """
    run, broken_at = 0, None
    expected_id, prev_hash = 1, GENESIS
    for event in _events(connection):
        if seal(event) == event["hash"]:
            raise ResealRefused(
                f"event {event['id']} carries a keyed link: the chain is keyed already "
                "(run `audit verify`); reseal-legacy seals only a trail written wholly "
                "before the keyed chain"
            )
        if broken_at is not None or event["id"] < 1:
            continue
        if (
            event["id"] == expected_id
            and event["prev_hash"] == prev_hash
            and hashlib.sha256(canonical(event)).hexdigest() == event["hash"]
        ):
            run += 1
            expected_id += 1
            prev_hash = event["hash"]
        else:
            broken_at = event["id"] if event["id"] == expected_id else expected_id
    return run, broken_at


def _set_triggers(connection: sa.Connection, on: bool, saved: list) -> list:
    """Turn the append-only triggers off or back on, inside the current transaction."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"ALTER TABLE audit_events {'ENABLE' if on else 'DISABLE'} TRIGGER USER"
        )
        return []
    if on:
        for _, sql in saved:
            connection.exec_driver_sql(sql)
        return []
    triggers = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return triggers


def reseal_legacy(connection: sa.Connection, key: bytes) -> Resealed:
    """Re-seal the plain run from event 1 under ``key``, in ``connection``'s transaction
    (the caller commits). Raises ``ResealRefused`` when the trail is not a legacy one."""
    if connection.dialect.name == "postgresql":
        # the service appends under this lock: it waits until this transaction ends
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    seal = sealer(key)
    run, broken_at = _survey(connection, seal)
    if run == 0 and broken_at is not None:
        raise ResealRefused(
            f"event {broken_at} does not fit the plain chain from event 1: nothing to seal "
            "(run `audit verify`)"
        )
    update = (
        sa.update(TABLE)
        .where(TABLE.c.id == sa.bindparam("b_id"))
        .values(prev_hash=sa.bindparam("b_prev_hash"), hash=sa.bindparam("b_hash"))
    )
    saved = _set_triggers(connection, False, [])
    new_prev = GENESIS
    pending: list[dict] = []
    for event in _events(connection, 1):
        if event["id"] > run:
            break
        event["prev_hash"] = new_prev
        new_prev = seal(event)
        pending.append({"b_id": event["id"], "b_prev_hash": event["prev_hash"], "b_hash": new_prev})
        if len(pending) >= BATCH:
            connection.execute(update, pending)
            pending = []
    if pending:
        connection.execute(update, pending)
    _set_triggers(connection, True, saved)

    # the trail records that it was re-sealed: a keyed event at its end
    head = connection.execute(
        sa.select(TABLE.c.id, TABLE.c.hash).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    head_id, head_hash = (head.id, head.hash) if head is not None else (0, GENESIS)
    event = {
        "id": head_id + 1,
        "occurred_at": utcnow(),
        "actor_id": None,
        "action": "reseal_legacy",
        "entity_type": "audit_events",
        "entity_id": None,
        "request_id": None,
        "details": {"sealed": run, "broken_at": broken_at},
        "prev_hash": head_hash,
    }
    event["hash"] = seal(event)
    connection.execute(sa.insert(TABLE), [event])
    return Resealed(run, broken_at, new_prev, event["id"], event["hash"])


def is_development_key(key: str) -> bool:
    from config.defaults import DEFAULT_AUDIT_KEY

    return hmac.compare_digest(key.encode(), DEFAULT_AUDIT_KEY.encode())
