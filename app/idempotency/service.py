"""Idempotency keys: a retried create replays its first answer instead of creating twice.

The key is claimed in a short transaction of its own (``unit_of_work.own_transaction``, so
a concurrent retry sees it and gets 409); the answer is recorded in the request's unit of
work and commits with the work, once (``Resource.dispatch_request``); a failed request's
work is rolled back and its key released, again in a transaction of its own, so the client
can try again.

A replayed answer shows its records again: the records the first answer was recorded as
showing are kept with it (ids only), and each replay records the same look, with the
replay's own request id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import unit_of_work
from app.audit import service as audit
from app.db import utcnow
from app.errors import Conflict, DomainError
from app.extensions import db
from app.idempotency.models import IdempotencyKey

REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")


IN_FLIGHT = "A request with this Idempotency-Key is still being processed; retry shortly."


class KeyReused(DomainError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused"


class InvalidKey(DomainError):
    status, code, title = 400, "invalid_idempotency_key", "Invalid Idempotency-Key"


@dataclass
class Claim:
    record: IdempotencyKey
    replay: Response | None = None


def _digest(parts: list[bytes]) -> Any:
    """sha256 of ``parts``, each length-prefixed so that no two lists hash alike."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest


def fingerprint(method: str, path: str, body: bytes, scope: str = "") -> str:
    """What the key stands for: the request, and the caller's role and team when it was made.

    A retry after the caller moved to another team or role is refused, not replayed: the
    first answer may show what the caller may no longer see.
    """
    return _digest([method.encode(), path.encode(), body, scope.encode()]).hexdigest()


def _multipart_parts() -> list[bytes]:
    """A multipart body as what it asks: each form field (sorted, repeated ones in order)
    and the sha256 of each file's content. Its raw bytes cannot serve: the boundary a
    client draws at random differs between a request and its retry, and once the form is
    parsed (before the view, by ``_check_text`` in app/web/media.py) ``get_data`` is empty."""
    parts: list[bytes] = []
    for name in sorted(request.form):
        for value in request.form.getlist(name):
            parts += [b"field", name.encode(), value.encode()]
    for name in sorted(request.files):
        for file in request.files.getlist(name):
            content = hashlib.file_digest(file.stream, "sha256").digest()
            file.stream.seek(0)  # the view reads it next
            parts += [b"file", name.encode(), content]
    return parts


def request_body() -> bytes:
    """The body as ``fingerprint`` takes it: as sent, or, for a multipart form, a digest
    of its fields and files (``_multipart_parts``)."""
    if request.mimetype == "multipart/form-data":
        return _digest(_multipart_parts()).digest()
    return request.get_data(cache=True)


def _replay(record: IdempotencyKey) -> Response:
    response = current_app.response_class(record.response_body, status=record.status_code)
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def claim_key(
    session: Session,
    user_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    print_: str,
    now: dt.datetime,
) -> Claim:
    """Find or take ``key`` for this user, in ``session`` (the claim's own transaction);
    flushes only. A replay's look is recorded in the request's unit of work."""
    session.execute(
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.expires_at <= now
        )
    )
    record = session.scalar(
        sa.select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .with_for_update()
    )
    if record is None:
        ttl = dt.timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
        record = IdempotencyKey(
            user_id=user_id,
            key=key,
            method=method,
            path=path,
            fingerprint=print_,
            state="in_flight",
            locked_at=now,
            expires_at=now + ttl,
        )
        session.add(record)
        session.flush()
        return Claim(record)
    if record.fingerprint != print_:
        raise KeyReused("This Idempotency-Key was used for a different request; use a new key.")
    if record.state == "completed":
        audit.record_reads(map(tuple, record.seen or []), via="idempotent_replay")
        return Claim(record, replay=_replay(record))
    stale_after = dt.timedelta(seconds=current_app.config["IDEMPOTENCY_IN_FLIGHT_SECONDS"])
    if record.locked_at > now - stale_after:
        raise Conflict(IN_FLIGHT, code="request_in_flight", headers={"Retry-After": "1"})
    record.locked_at = now
    session.flush()
    return Claim(record)


def complete_key(record_id: uuid.UUID, response: Response) -> None:
    """Record the answer in the request's unit of work: it commits with the work."""
    record = db.session.get(IdempotencyKey, record_id)
    record.state = "completed"
    record.status_code = response.status_code
    record.response_body = response.get_data(as_text=True)
    record.response_headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    }
    record.seen = audit.pending_reads() or None
    db.session.flush()


def release_key(record_id: uuid.UUID) -> None:
    """After the request's work was abandoned: give the key back, in a transaction of its own."""
    with unit_of_work.own_transaction() as session:
        session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == record_id))


def _abandon(record_id: uuid.UUID) -> None:
    unit_of_work.abandon()
    release_key(record_id)


def idempotent(view):
    """Make a creating view method honour the ``Idempotency-Key`` header.

    It commits nothing of the request's: the claim is a transaction of its own, the answer
    is stored with the work, and ``Resource.dispatch_request`` commits both once.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        from app.auth.access import current_actor

        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        key = key.strip()
        if not key or len(key) > 255:
            raise InvalidKey("Idempotency-Key must be 1 to 255 characters.")
        actor = current_actor()
        print_ = fingerprint(
            request.method,
            request.full_path.rstrip("?"),
            request_body(),
            f"{actor.role}:{actor.team_id}",
        )
        user_id = actor.id
        try:
            with unit_of_work.own_transaction() as session:
                claim = claim_key(
                    session, user_id, key, request.method, request.path, print_, utcnow()
                )
        except IntegrityError:
            # a concurrent request inserted the same key first: it is in flight
            raise Conflict(
                IN_FLIGHT, code="request_in_flight", headers={"Retry-After": "1"}
            ) from None
        if claim.replay is not None:
            return claim.replay
        record_id = claim.record.id
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            _abandon(record_id)
            raise
        if 200 <= response.status_code < 300:
            complete_key(record_id, response)
        else:
            _abandon(record_id)
        return response

    wrapper._idempotent = True  # the document shows Idempotency-Key (app/openapi.py)
    return wrapper
