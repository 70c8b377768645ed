"""An Idempotency-Key on a photo upload stands for the file and the caption sent.

A multipart body is fingerprinted from its parsed fields and each file's content, not from
its raw bytes: the boundary a client draws at random differs between a request and its
retry, and the raw bytes are gone once the form is parsed.
"""

from __future__ import annotations

import io

from tests.conftest import png_bytes
from tests.housing.helpers import code, photos_url, stored_photos


def upload_with_key(api, offer, raw: bytes, caption: str, key: str = "photo-7c1e"):
    return api.client.post(
        photos_url(offer),
        data={"file": (io.BytesIO(raw), "photo.png"), "caption": caption},
        headers=api._headers({"Idempotency-Key": key}),
        content_type="multipart/form-data",
    )


def test_the_same_upload_again_is_replayed(as_coordinator, make_offer, app):
    offer = make_offer(title="Flat by the river")
    raw = png_bytes(colour=(12, 34, 56))

    first = upload_with_key(as_coordinator, offer, raw, "Kitchen")
    again = upload_with_key(as_coordinator, offer, raw, "Kitchen")

    assert first.status_code == 201, first.get_json()
    assert again.status_code == 201, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(stored_photos(app)) == 1


def test_another_file_under_the_same_key_is_refused(as_coordinator, make_offer, app):
    offer = make_offer(title="Flat by the river")

    first = upload_with_key(as_coordinator, offer, png_bytes(colour=(12, 34, 56)), "Kitchen")
    other = upload_with_key(as_coordinator, offer, png_bytes(colour=(65, 43, 21)), "Kitchen")

    assert first.status_code == 201, first.get_json()
    assert other.status_code == 422, other.get_json()
    assert code(other) == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in other.headers
    assert len(stored_photos(app)) == 1


def test_another_caption_under_the_same_key_is_refused(as_coordinator, make_offer, app):
    offer = make_offer(title="Flat by the river")
    raw = png_bytes(colour=(12, 34, 56))

    first = upload_with_key(as_coordinator, offer, raw, "Kitchen")
    other = upload_with_key(as_coordinator, offer, raw, "Bathroom")

    assert first.status_code == 201, first.get_json()
    assert other.status_code == 422, other.get_json()
    assert code(other) == "idempotency_key_reused"
