"""An offer's photos: attached and removed by coordinators, shown to every case role.

Identical photos share one file, kept while any photo uses it: writing it for a new photo
and removing it when the last photo goes both happen under the lock of its
``photo_blobs`` row. The image itself is cleaned and stored by ``app.housing.images``.
Functions flush; the request commits.
"""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from app.audit import service as audit
from app.auth.models import COORDINATOR, User
from app.auth.permissions import require_role
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.extensions import db
from app.housing import images
from app.housing.models import HousingPhoto, PhotoBlob
from app.housing.service import MANAGING_OFFERS, get_offer
from app.unit_of_work import on_commit, own_transaction

log = logging.getLogger(__name__)


def lock_blob(
    executor: Session | scoped_session | sa.Connection, sha256: str, content_type: str
) -> None:
    """Make sure the file's ``photo_blobs`` row exists, and lock it until the transaction ends.

    One statement, so there is no moment between "it exists" and "it is locked": an upsert
    inserts the row or updates (and so locks) the one there; on PostgreSQL it waits for a
    transaction that is inserting or deleting the same row, then does the other thing.
    """
    dialect = (
        executor.dialect if isinstance(executor, sa.Connection) else executor.get_bind().dialect
    )
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(PhotoBlob).values(sha256=sha256, content_type=content_type, created_at=utcnow())
    executor.execute(
        stmt.on_conflict_do_update(
            index_elements=[PhotoBlob.sha256],
            set_={"content_type": stmt.excluded.content_type},
        )
    )


def release_blob(sha256: str, content_type: str) -> bool:
    """After a photo's row is gone (committed): remove its file if no photo uses it any more.

    Runs in a transaction of its own, under the blob's lock, which an upload of the same
    bytes also holds from writing (or re-writing) the file until its photo row commits. So
    either the upload comes first, and its row is seen here and the file kept, or this comes
    first, and the upload finds the file gone and writes it again. The file is removed
    before this commits, while the lock is held. True when the file was removed.
    """
    try:
        with own_transaction() as session:
            connection = session.connection()
            lock_blob(connection, sha256, content_type)
            used = connection.scalar(
                sa.select(HousingPhoto.id).where(HousingPhoto.sha256 == sha256).limit(1)
            )
            if used is not None:
                return False
            connection.execute(sa.delete(PhotoBlob).where(PhotoBlob.sha256 == sha256))
            images.remove(sha256, content_type)
            return True
    except (SQLAlchemyError, OSError):
        # the photo is gone either way; at worst an unused file stays behind, never a used
        # one is lost: the next upload or removal of these bytes settles it
        log.exception("photo file %s: could not decide whether to remove it", sha256)
        return False


def check_offer_before_upload(offer_id: uuid.UUID) -> None:
    """404 for an offer that does not exist, before the upload view reads a photo's body
    (up to PHOTO_MAX_BYTES): no large body is read for nothing. ``add_photo`` checks its
    actor, loads and locks the offer again itself; this decides nothing else."""
    get_offer(offer_id)


def add_photo(actor: User, offer_id: uuid.UUID, raw: bytes, caption: str | None) -> HousingPhoto:
    """Clean the image first (slow, no lock held), then attach it under the offer's lock.

    The file is written, or written again if it went missing, under its blob's lock, which
    is held until this photo's row commits (see ``release_blob``).
    """
    require_role(actor, COORDINATOR, doing=MANAGING_OFFERS)
    image = images.clean_image(raw)
    offer = get_offer(offer_id, for_update=True)
    if offer.status == "withdrawn":
        raise Conflict("This offer is withdrawn.", code="invalid_transition")
    lock_blob(db.session, image.sha256, image.content_type)
    images.store(image)
    photo = HousingPhoto(
        offer_id=offer.id,
        sha256=image.sha256,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=len(image.data),
        caption=caption,
        uploaded_by=actor.id,
    )
    db.session.add(photo)
    db.session.flush()
    # the answer shows its caption
    audit.record_read("housing_photos", [photo.id], actor_id=actor.id, via="add_photo")
    return photo


def get_photo(offer_id: uuid.UUID, photo_id: uuid.UUID) -> HousingPhoto:
    photo = db.session.scalar(
        sa.select(HousingPhoto).where(
            HousingPhoto.id == photo_id, HousingPhoto.offer_id == offer_id
        )
    )
    if photo is None:
        raise NotFound("No such photo.")
    return photo


def read_photo(offer_id: uuid.UUID, photo_id: uuid.UUID) -> tuple[HousingPhoto, bytes]:
    """A photo and its bytes, as staff look at it (the look is audited, never the bytes)."""
    photo = get_photo(offer_id, photo_id)
    data = images.read(photo.sha256, photo.content_type)
    if data is None:
        log.error("photo %s: its file %s is missing from the upload folder", photo.id, photo.sha256)
        raise NotFound("The photo's file is missing; upload it again.")
    audit.record_read("housing_photos", [photo.id], offer_id=str(offer_id))
    return photo, data


def delete_photo(actor: User, offer_id: uuid.UUID, photo_id: uuid.UUID) -> None:
    """Forget the photo, under its offer's lock; once that commits, its file goes if no
    photo uses it any more.

    Whether another photo uses it is decided after the commit, under the blob's lock
    (``release_blob``): a look now would miss an upload of the same bytes not yet committed.
    """
    require_role(actor, COORDINATOR, doing=MANAGING_OFFERS)
    get_offer(offer_id, for_update=True)
    photo = get_photo(offer_id, photo_id)
    db.session.delete(photo)
    db.session.flush()
    sha256, content_type = photo.sha256, photo.content_type
    on_commit(lambda: release_blob(sha256, content_type))
