"""Checkpoints of the audit chain's head, kept outside the database.

A checkpoint is ``{"sequence", "hash", "time", "mac"}``: the id and hash of the newest event
at ``time``, with an HMAC-SHA256 over the three under the audit key, so that a checkpoint
cannot be forged without the key. An operator keeps them away from the database (and ships
them off the machine); ``audit verify --checkpoint FILE`` then finds events deleted from the
end of the chain, or a chain cut back and grown again, which the chain alone cannot show.

The service writes its own checkpoints after a commit that appended events, when the chain
passes a multiple of ``AUDIT_CHECKPOINT_EVERY_EVENTS`` (each batch of events is appended by
one process, so exactly one process sees each multiple go by) or when
``AUDIT_CHECKPOINT_EVERY_MINUTES`` have passed since this process's last checkpoint. The
line is appended with one ``write`` to a file opened with ``O_APPEND``: several workers can
share the file without interleaving their lines. A failed write is logged, never raised:
the request has committed already.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: Separates checkpoint MACs from the chain's event hashes, which use the same key.
_DOMAIN = "safepassage-audit-checkpoint-v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class CheckpointError(ValueError):
    """A checkpoint file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    time: str
    mac: str
    #: Where it was read from ("FILE line N"), for messages; empty when made here.
    source: str = ""

    def as_json(self) -> str:
        body = {"sequence": self.sequence, "hash": self.hash, "time": self.time, "mac": self.mac}
        return json.dumps(body, separators=(",", ":"))

    def describe(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"checkpoint of {self.time}{where}"


def audit_key() -> bytes:
    """The current app's audit key: it keys the chain and the checkpoints."""
    if not has_app_context():
        raise RuntimeError("audit events are sealed with the app's AUDIT_KEY: use an app context")
    return current_app.config["AUDIT_KEY"].encode()


def checkpoint_mac(key: bytes, sequence: int, head_hash: str, taken_at: str) -> str:
    message = f"{_DOMAIN}\n{sequence}\n{head_hash}\n{taken_at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def make_checkpoint(
    key: bytes, sequence: int, head_hash: str, when: dt.datetime | None = None
) -> Checkpoint:
    when = when or dt.datetime.now(dt.UTC)
    taken_at = when.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return Checkpoint(
        sequence, head_hash, taken_at, checkpoint_mac(key, sequence, head_hash, taken_at)
    )


def is_authentic(checkpoint: Checkpoint, key: bytes) -> bool:
    expected = checkpoint_mac(key, checkpoint.sequence, checkpoint.hash, checkpoint.time)
    return hmac.compare_digest(expected, checkpoint.mac)


def parse_checkpoints(text: str, name: str) -> list[Checkpoint]:
    """Every checkpoint in ``text`` (one JSON object, or one per line); blank lines are skipped.

    A line that is not a well-formed checkpoint is an error, not skipped: the file is
    evidence, and a damaged line deserves a look.
    """
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # a JSON-lines file: read line by line below
    if isinstance(whole, dict):
        return [_checkpoint(whole, name)]
    checkpoints = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise CheckpointError(f"{where}: not a checkpoint (not JSON)") from None
        checkpoints.append(_checkpoint(data, where))
    if not checkpoints:
        raise CheckpointError(f"{name}: no checkpoint in it")
    return checkpoints


def _checkpoint(data: object, where: str) -> Checkpoint:
    if not isinstance(data, dict) or set(data) != {"sequence", "hash", "time", "mac"}:
        raise CheckpointError(f"{where}: not a checkpoint (needs sequence, hash, time, mac)")
    sequence, head_hash, taken_at, mac = (data[k] for k in ("sequence", "hash", "time", "mac"))
    if (
        not isinstance(sequence, int)
        or isinstance(sequence, bool)
        or sequence < 0
        or not isinstance(head_hash, str)
        or not _HEX64.fullmatch(head_hash)
        or not isinstance(taken_at, str)
        or not isinstance(mac, str)
        or not _HEX64.fullmatch(mac)
    ):
        raise CheckpointError(f"{where}: not a checkpoint (a field has the wrong form)")
    return Checkpoint(sequence, head_hash, taken_at, mac, where)


def read_checkpoints(path: str | Path) -> list[Checkpoint]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from None
    return parse_checkpoints(text, str(path))


def configured_checkpoints() -> list[Checkpoint]:
    """The service's own checkpoints (``AUDIT_CHECKPOINT_PATH``), when it keeps any yet."""
    path = current_app.config["AUDIT_CHECKPOINT_PATH"]
    if not path or not Path(path).exists():
        return []
    return read_checkpoints(path)


def load_all(paths: Iterable[str | Path]) -> list[Checkpoint]:
    checkpoints = configured_checkpoints()
    for path in paths:
        checkpoints.extend(read_checkpoints(path))
    return checkpoints


def append_line(path: str | Path, line: str) -> None:
    """Append one whole line: one ``write`` with ``O_APPEND``, so lines never interleave."""
    data = (line.rstrip("\n") + "\n").encode()
    # owner read-write, group read (a shipping or backup job); others nothing
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"only {written} of {len(data)} bytes written")


# --- the service's own schedule ----------------------------------------------------------


class _Schedule:
    """When this process last wrote a checkpoint (monotonic seconds; None: not yet)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_written: float | None = None

    def due(self, first_id: int, last_id: int, every_events: int, every_minutes: int) -> bool:
        # did this batch, ids first_id..last_id, pass a multiple of every_events?
        by_events = every_events > 0 and last_id // every_events > (first_id - 1) // every_events
        now = time.monotonic()
        with self.lock:
            by_time = every_minutes > 0 and (
                self.last_written is None or now - self.last_written >= every_minutes * 60
            )
            if by_events or by_time:
                self.last_written = now
                return True
        return False


schedule = _Schedule()


def after_append(session: Session, first_id: int, last_id: int, last_hash: str) -> None:
    """Called as events are appended: once the transaction commits, write a checkpoint if due.

    Costs nothing when no path is configured, and no query ever: the head is what was
    just appended.
    """
    config = current_app.config
    path = config["AUDIT_CHECKPOINT_PATH"]
    if not path:
        return
    key = audit_key()
    every_events = config["AUDIT_CHECKPOINT_EVERY_EVENTS"]
    every_minutes = config["AUDIT_CHECKPOINT_EVERY_MINUTES"]

    def write() -> None:
        try:
            if schedule.due(first_id, last_id, every_events, every_minutes):
                append_line(path, make_checkpoint(key, last_id, last_hash).as_json())
        except Exception:
            logger.exception(
                "AUDIT CHECKPOINT NOT WRITTEN to %s (chain head: event %s): fix the path; "
                "until then take checkpoints with `flask --app wsgi audit checkpoint`",
                path,
                last_id,
            )

    session.info["audit_checkpoint"] = write


def write_if_due(session: Session) -> None:
    """After the commit (a hook of app/unit_of_work.py): write the checkpoint if due."""
    write = session.info.pop("audit_checkpoint", None)
    if write is not None:
        write()


def forget(session: Session, _previous: object) -> None:
    """After a rollback (a hook of app/unit_of_work.py): nothing was appended."""
    session.info.pop("audit_checkpoint", None)
