"""The audit chain: how each event is sealed, and how the whole chain is verified.

Each event's hash is HMAC-SHA256, under ``AUDIT_KEY``, of its canonical bytes, which
include the previous event's hash: an event edited, inserted, removed or moved breaks the
chain from there on. ``AUDIT_KEY`` is never stored in the database, so someone holding the
database cannot recompute the hashes after an edit; checkpoints of the chain's head, kept
elsewhere (``app.audit.checkpoints``), catch events cut from its end. Events are appended
by ``app.audit.service.append_to_chain``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from app.audit import checkpoints
from app.audit.checkpoints import Checkpoint, is_authentic
from app.audit.models import GENESIS, AuditEvent
from app.extensions import db


def canonical(event: dict) -> bytes:
    """The bytes an event's hash covers: every column but the hash, in a fixed form."""
    occurred_at = event["occurred_at"]
    if isinstance(occurred_at, dt.datetime):
        occurred_at = occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    body = {
        "id": event["id"],
        "occurred_at": occurred_at,
        "actor_id": None if event["actor_id"] is None else str(event["actor_id"]),
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": event["entity_id"],
        "request_id": event["request_id"],
        "details": event["details"],
        "prev_hash": event["prev_hash"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: dict, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the event's canonical bytes under the audit key (the app's, by default)."""
    key = checkpoints.audit_key() if key is None else key
    return hmac.new(key, canonical(event), hashlib.sha256).hexdigest()


def sealer(key: bytes):
    """``event_hash`` for one key, with the key's HMAC set-up done once (verify's hot loop)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def seal(event: dict) -> str:
        mac = keyed.copy()
        mac.update(canonical(event))
        return mac.hexdigest()

    return seal


@dataclass
class Verification:
    ok: bool
    checked: int
    first_broken_id: int | None
    #: How many checkpoints the chain was compared with.
    checkpoints: int = 0
    #: What is wrong, in a sentence for the operator; None when intact.
    problem: str | None = None
    #: The newest event verified and its hash (0 and GENESIS for an empty chain): the head
    #: a checkpoint may vouch for, once ``ok``.
    head_id: int = 0
    head_hash: str = GENESIS


def verify_chain(
    batch: int = 5000,
    *,
    against: list[Checkpoint] | None = None,
    key: bytes | None = None,
    connection: sa.Connection | None = None,
) -> Verification:
    """Walk the whole chain in id order; the first event that does not fit is named.

    Every row is looked at: one with an id below 1 is reported before the walk (the chain
    is ids 1..N, consecutive), and the walk reads every id above the last one it checked.

    Each event must carry the next id, the previous event's hash, and its own keyed hash.
    Each checkpoint in ``against`` must be authentic (its MAC, under the same key), and the
    event at its sequence must exist and have the hash it recorded: so events cut from the
    end, or a chain cut back and grown again, are found too. Every checkpoint is checked,
    not only the newest: a cut made before an older checkpoint and covered by new events
    since still contradicts that older one.
    """
    key = checkpoints.audit_key() if key is None else key
    execute = (connection or db.session).execute
    against = against or []
    refused = _refuse_checkpoints(against, key) or _outside_the_chain(execute, len(against))
    if refused is not None:
        return refused
    pinned: dict[int, list[Checkpoint]] = {}
    for checkpoint in against:
        pinned.setdefault(checkpoint.sequence, []).append(checkpoint)
    walk = _Walk(sealer(key), pinned, len(against))
    for event in _events(execute, batch):
        broken = walk.step(event)
        if broken is not None:
            return broken
    return walk.end()


def _refuse_checkpoints(against: list[Checkpoint], key: bytes) -> Verification | None:
    """A checkpoint that is forged (or of another key), or that puts another head than the
    genesis at sequence 0, fails the chain before its walk."""
    for checkpoint in against:
        if not is_authentic(checkpoint, key):
            return Verification(
                False,
                0,
                None,
                len(against),
                f"{checkpoint.describe()} is forged or was made with another key: "
                "its MAC does not match",
            )
    for checkpoint in against:
        if checkpoint.sequence == 0 and checkpoint.hash != GENESIS:
            return Verification(
                False, 0, None, len(against), f"{checkpoint.describe()} is not of this chain"
            )
    return None


def _outside_the_chain(execute: Callable, checkpoints: int) -> Verification | None:
    """Rows with an id below 1, which the walk (ids 1 and up) would not read: never valid."""
    outside = (
        execute(sa.select(AuditEvent.id).where(AuditEvent.id < 1).order_by(AuditEvent.id))
        .scalars()
        .all()
    )
    if not outside:
        return None
    named = ", ".join(str(i) for i in outside[:10]) + (", ..." if len(outside) > 10 else "")
    return Verification(
        False,
        0,
        outside[0],
        checkpoints,
        f"{len(outside)} event(s) with an id below 1 ({named}): the chain starts at "
        "event 1, so these were inserted outside it",
    )


def _events(execute: Callable, batch: int) -> Iterator[dict]:
    """Every event with an id of 1 and up, in id order, read ``batch`` rows at a time."""
    columns = list(AuditEvent.__table__.c)
    last_id = 0
    while True:
        rows = (
            execute(
                sa.select(*columns)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield dict(row)
        last_id = rows[-1]["id"]


@dataclass
class _Walk:
    """The walk along the chain: each event checked against the one before it, its own
    hash and the checkpoints pinned to its id (``verify_chain``)."""

    seal: Callable[[dict], str]
    pinned: dict[int, list[Checkpoint]]
    checkpoints: int
    prev_hash: str = GENESIS
    expected_id: int = 1
    checked: int = 0
    last_id: int = 0

    def broken(self, event_id: int, problem: str) -> Verification:
        return Verification(False, self.checked, event_id, self.checkpoints, problem)

    def step(self, event: dict) -> Verification | None:
        """The next event: None when it fits, else what is wrong with it."""
        event_id = event["id"]
        self.checked += 1
        if event_id != self.expected_id:
            return self.broken(
                event_id, f"event {self.expected_id} is missing (the next one is event {event_id})"
            )
        if event["prev_hash"] != self.prev_hash:
            return self.broken(
                event_id,
                f"event {event_id} does not follow event {event_id - 1}: "
                "an event was inserted, deleted or moved here",
            )
        if self.seal(event) != event["hash"]:
            return self.broken(
                event_id,
                f"event {event_id} was altered: its hash does not match its contents "
                "under the audit key",
            )
        for checkpoint in self.pinned.get(event_id, ()):
            if checkpoint.hash != event["hash"]:
                return self.broken(
                    event_id,
                    f"event {event_id} is not the one the {checkpoint.describe()} saw: "
                    "the chain was cut back and written again",
                )
        self.prev_hash = event["hash"]
        self.expected_id += 1
        self.last_id = event_id
        return None

    def end(self) -> Verification:
        """The walk reached the chain's end: it must reach every checkpoint's event."""
        furthest = max(self.pinned, default=0)
        if furthest > self.last_id:
            checkpoint = self.pinned[furthest][0]
            gone = f"events {self.last_id + 1} to {furthest} were"
            if furthest == self.last_id + 1:
                gone = f"event {furthest} was"
            return self.broken(
                self.last_id + 1,
                f"the chain ends at event {self.last_id}, but the {checkpoint.describe()} saw "
                f"it reach event {furthest}: {gone} deleted",
            )
        return Verification(
            True,
            self.checked,
            None,
            self.checkpoints,
            head_id=self.last_id,
            head_hash=self.prev_hash,
        )


def verify_trail(checkpoint_files: list[str] | tuple[str, ...] = ()) -> Verification:
    """The chain, checked against the service's own checkpoints (``AUDIT_CHECKPOINT_PATH``)
    and those in ``checkpoint_files``; a checkpoint file that cannot be read fails it."""
    try:
        against = checkpoints.load_all(checkpoint_files)
    except checkpoints.CheckpointError as error:
        return Verification(False, 0, None, 0, str(error))
    return verify_chain(against=against)
