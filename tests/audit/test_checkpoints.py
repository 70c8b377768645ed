"""Checkpoints of the chain's head: the operator's command, and the service's own schedule."""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import stat
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest
import sqlalchemy as sa

from app.audit import checkpoints
from app.audit.checkpoints import append_line, is_authentic, parse_checkpoints
from app.audit.models import AuditEvent
from app.extensions import db
from tests.http_helpers import etag_of

TABLE = AuditEvent.__table__


def _head(app) -> tuple[int, str]:
    with app.app_context():
        row = db.session.execute(
            sa.select(TABLE.c.id, TABLE.c.hash).order_by(TABLE.c.id.desc()).limit(1)
        ).one()
        return row.id, row.hash


def _hash_of(app, event_id: int) -> str:
    with app.app_context():
        return db.session.scalar(sa.select(TABLE.c.hash).where(TABLE.c.id == event_id))


def _key(app) -> bytes:
    return app.config["AUDIT_KEY"].encode()


@pytest.fixture
def household(make_household, team):
    return make_household(team=team)


@pytest.fixture
def patch_household(as_field_worker, household):
    """``patch_household()``: one PATCH, one audit event in one commit; its request id.
    Each PATCH sends the ETag the one before it answered with (the first: read now)."""
    url = f"/api/v1/households/{household.id}"
    etag = {"current": etag_of(as_field_worker, url)}
    priorities = itertools.cycle(("high", "urgent", "normal"))

    def patch() -> str:
        request_id = f"checkpoint-test-{uuid.uuid4().hex[:12]}"
        response = as_field_worker.patch(
            url,
            json={"priority": next(priorities)},
            headers={"If-Match": etag["current"], "X-Request-ID": request_id},
        )
        assert response.status_code == 200, response.get_json()
        etag["current"] = response.headers["ETag"]
        return request_id

    return patch


@pytest.fixture
def scheduled(app, monkeypatch, tmp_path):
    """The service writes checkpoints to a file: ``scheduled(every_events, every_minutes)``."""
    path = tmp_path / "audit-checkpoints.jsonl"
    monkeypatch.setattr(checkpoints.schedule, "last_written", None)

    def configure(every_events: int, every_minutes: int, target=path):
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_PATH", str(target))
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_EVERY_EVENTS", every_events)
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_EVERY_MINUTES", every_minutes)
        return target

    return configure


def test_the_checkpoint_command_prints_the_head_as_one_signed_json_line(app, household):
    head_id, head_hash = _head(app)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    data = json.loads(result.stdout)
    assert set(data) == {"sequence", "hash", "time", "mac"}
    assert (data["sequence"], data["hash"]) == (head_id, head_hash)
    [checkpoint] = parse_checkpoints(result.stdout, "stdout")
    assert is_authentic(checkpoint, _key(app))
    assert not is_authentic(checkpoint, b"another-key-of-at-least-thirty-two-chars")


def test_the_service_writes_a_checkpoint_each_time_the_chain_passes_n_events(
    app, as_admin, household, patch_household, scheduled
):
    path = scheduled(every_events=3, every_minutes=0)
    mark, _ = _head(app)
    for _ in range(8):
        patch_household()
    with app.app_context():
        events = db.session.execute(
            sa.select(TABLE.c.id, TABLE.c.request_id).where(TABLE.c.id > mark).order_by(TABLE.c.id)
        ).all()
    # each commit appends one batch; the one that passes a multiple of 3 writes its head
    batches = [
        [e.id for e in group] for _, group in itertools.groupby(events, key=lambda e: e.request_id)
    ]
    expected = [b[-1] for b in batches if b[-1] // 3 > (b[0] - 1) // 3]
    assert len(expected) >= 2
    written = parse_checkpoints(path.read_text(), str(path))
    assert [c.sequence for c in written] == expected
    for checkpoint in written:
        assert is_authentic(checkpoint, _key(app))
        assert checkpoint.hash == _hash_of(app, checkpoint.sequence)
    # the owner writes, a shipping job's group reads, nobody else (the umask may take more)
    assert stat.S_IMODE(path.stat().st_mode) & ~0o640 == 0
    assert stat.S_IMODE(path.stat().st_mode) & 0o600 == 0o600

    # verify uses the service's own checkpoints, on the command line and through the API
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"against {len(expected)} checkpoint(s)" in result.output
    verdict = as_admin.get("/api/v1/audit-events/verify").get_json()
    assert verdict["ok"] is True
    assert verdict["checkpoints"] == len(expected)
    assert verdict["problem"] is None


def test_the_service_writes_a_checkpoint_when_m_minutes_have_passed(
    app, household, patch_household, scheduled
):
    path = scheduled(every_events=0, every_minutes=5)
    patch_household()
    first_head, _ = _head(app)
    patch_household()  # within five minutes of the last one: nothing new
    lines = path.read_text().splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [first_head]
    # five minutes later (this process's clock of its last checkpoint, moved back)
    checkpoints.schedule.last_written -= 5 * 60
    patch_household()
    head, head_hash = _head(app)
    written = parse_checkpoints(path.read_text(), str(path))
    assert [(c.sequence, c.hash) for c in written][-1] == (head, head_hash)
    assert len(written) == 2


def test_no_checkpoint_is_written_without_a_path(app, household, patch_household, monkeypatch):
    assert app.config["AUDIT_CHECKPOINT_PATH"] == ""
    # the schedule would be due at once (every event, no checkpoint yet): only the path stops it
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_EVERY_EVENTS", 1)
    monkeypatch.setattr(checkpoints.schedule, "last_written", None)
    written = []
    monkeypatch.setattr(checkpoints, "append_line", lambda *args: written.append(args))
    patch_household()
    assert written == []
    assert checkpoints.schedule.last_written is None


def test_a_failed_checkpoint_write_is_logged_and_the_request_still_succeeds(
    app, household, patch_household, scheduled, tmp_path, caplog
):
    scheduled(every_events=1, every_minutes=0, target=tmp_path / "no-such-dir" / "cp.jsonl")
    request_id = patch_household()  # asserts 200 and that the change is there
    with app.app_context():
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(TABLE).where(TABLE.c.request_id == request_id)
        )
    [record] = [r for r in caplog.records if "AUDIT CHECKPOINT NOT WRITTEN" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def _append_many(path: str, worker: int, count: int) -> None:
    line = json.dumps({"worker": worker, "padding": "x" * 300})
    for _ in range(count):
        append_line(path, line)


@pytest.mark.slow
def test_several_processes_append_whole_lines(tmp_path):
    """Gunicorn workers share one file: every line arrives whole, none interleaved."""
    path = str(tmp_path / "shared.jsonl")
    workers, count = 4, 400
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in [pool.submit(_append_many, path, w, count) for w in range(workers)]:
            future.result()
    lines = (tmp_path / "shared.jsonl").read_text().splitlines()
    assert len(lines) == workers * count
    per_worker = [json.loads(line)["worker"] for line in lines]
    assert sorted(set(per_worker)) == list(range(workers))
    assert all(per_worker.count(w) == count for w in range(workers))


def test_a_new_checkpoint_file_is_readable_by_its_group_only(tmp_path):
    path = tmp_path / "audit-checkpoints.jsonl"
    previous = os.umask(0o022)
    try:
        append_line(path, '{"sequence":1}')
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
