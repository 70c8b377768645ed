"""Deleting a photo while someone uploads the same picture elsewhere never loses the file.

Identical pictures are stored once, under their content hash. Each round here stores a
picture on offer A, then, at the same moment, deletes it from A (one coordinator) and
uploads the same bytes to offer B (another), each request in a thread of its own, through
a test client and a database connection of its own. Whoever wins, every photo left on
record must still be served: its file is on disk and GET answers its bytes.
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.auth.models import COORDINATOR
from app.extensions import db
from app.housing import images
from app.housing.models import HousingPhoto, PhotoBlob
from tests.housing.helpers import photos_url

ROUNDS = 20

pytestmark = [pytest.mark.slow, pytest.mark.commits]


def picture(round_no: int) -> bytes:
    """A PNG of its own for each round, so every round races for a file of its own."""
    image = Image.new("RGB", (24, 16), (round_no * 7 % 256, 90, 200 - round_no))
    image.putpixel((round_no % 24, 3), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def tokens(make_user, login) -> list[str]:
    return [login(make_user(COORDINATOR)).token for _ in range(2)]


def _upload(client, token: str, offer_id, raw: bytes):
    return client.post(
        f"/api/v1/housing-offers/{offer_id}/photos",
        data={"file": (io.BytesIO(raw), "room.png"), "caption": "Room"},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def at_once(app, calls) -> list:
    """Run every ``call(client)`` in a thread and test client of its own, released together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call) -> None:
        try:
            with app.test_client() as client:
                barrier.wait(timeout=10)
                results[index] = call(client)
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert not failures, failures
    return results


def photos_on_record(app) -> list[HousingPhoto]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(HousingPhoto)))
        db.session.expunge_all()
        return rows


def file_of(app, photo: HousingPhoto) -> Path:
    with app.app_context():
        return images._path(photo.sha256, photo.content_type)


def test_delete_racing_an_upload_of_the_same_bytes_never_loses_the_file(
    app, tokens, make_offer, login, coordinator
):
    viewer = login(coordinator)
    lost: list[str] = []
    for round_no in range(ROUNDS):
        raw = picture(round_no)
        offer_a, offer_b = make_offer(title="Flat A"), make_offer(title="Flat B")
        with app.test_client() as client:
            first = _upload(client, tokens[0], offer_a.id, raw)
        assert first.status_code == 201, first.get_json()
        photo_a = first.get_json()["id"]

        deleted, uploaded = at_once(
            app,
            [
                lambda c, a=offer_a, p=photo_a: c.delete(
                    f"/api/v1/housing-offers/{a.id}/photos/{p}",
                    headers={"Authorization": f"Bearer {tokens[0]}"},
                ),
                lambda c, b=offer_b, r=raw: _upload(c, tokens[1], b.id, r),
            ],
        )

        assert deleted.status_code == 204, deleted.get_json()
        assert uploaded.status_code == 201, uploaded.get_json()
        for photo in photos_on_record(app):
            served = viewer.get(f"{photos_url(str(photo.offer_id))}/{photo.id}")
            if served.status_code != 200 or not file_of(app, photo).exists():
                lost.append(f"round {round_no}: photo {photo.id} ({served.status_code})")
                continue
            assert hashlib.sha256(served.data).hexdigest() == photo.sha256
        # start the next round clean: the photo that won is deleted the ordinary way
        for photo in photos_on_record(app):
            gone = viewer.delete(f"{photos_url(str(photo.offer_id))}/{photo.id}")
            assert gone.status_code == 204, gone.get_json()

    assert not lost, f"{len(lost)} of {ROUNDS} races lost a file in use: {lost}"
    with app.app_context():  # nothing on record any more, and so no file kept either
        assert db.session.scalars(sa.select(PhotoBlob)).all() == []


def test_two_deletes_and_an_upload_keep_exactly_the_files_in_use(
    app, tokens, make_offer, make_photo, login, coordinator
):
    """Two offers drop a shared picture while a third takes it: the third's file stays; and
    when the last photo of a picture goes, its file goes too (nothing is left behind)."""
    viewer = login(coordinator)
    third = viewer.token
    lost: list[str] = []
    for round_no in range(ROUNDS):
        raw = picture(100 + round_no)
        offers = [make_offer(title=f"Flat {n}") for n in "ABC"]
        shared = [make_photo(offer, raw) for offer in offers[:2]]

        answers = at_once(
            app,
            [
                lambda c, o=offers[0], p=shared[0]: c.delete(
                    f"/api/v1/housing-offers/{o.id}/photos/{p.id}",
                    headers={"Authorization": f"Bearer {tokens[0]}"},
                ),
                lambda c, o=offers[1], p=shared[1]: c.delete(
                    f"/api/v1/housing-offers/{o.id}/photos/{p.id}",
                    headers={"Authorization": f"Bearer {tokens[1]}"},
                ),
                lambda c, o=offers[2], r=raw: _upload(c, third, o.id, r),
            ],
        )

        assert [a.status_code for a in answers] == [204, 204, 201]
        (remaining,) = photos_on_record(app)
        served = viewer.get(f"{photos_url(str(remaining.offer_id))}/{remaining.id}")
        if served.status_code != 200:
            lost.append(f"round {round_no}: photo {remaining.id} ({served.status_code})")
            continue
        path = file_of(app, remaining)
        gone = viewer.delete(f"{photos_url(str(remaining.offer_id))}/{remaining.id}")
        assert gone.status_code == 204
        assert not path.exists(), "the last photo went, and its file stayed behind"

    assert not lost, f"{len(lost)} of {ROUNDS} races lost a file in use: {lost}"
