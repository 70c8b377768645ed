"""Photo uploads: only real images, re-encoded with every bit of metadata stripped.

Phones write GPS coordinates, device names and times into photos; a picture of a flat
must never reveal where a family is going. So the upload is judged by its content (not
its name or declared type), decoded, and written out anew as pixels only.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import DomainError
from app.extensions import PROJECT_ROOT

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: Phones write JPEGs with extra frames ("MPO"); the first frame is a plain JPEG.
ALIASES = {"MPO": "JPEG"}
#: Photos are shown on a tablet: larger ones are scaled down to this many pixels a side.
MAX_STORED_SIDE = 2560
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


class NotAnImage(DomainError):
    status, code, title = 415, "unsupported_image", "Not a JPEG, PNG or WebP image"


class ImageTooLarge(DomainError):
    status, code, title = 413, "image_too_large", "Image too large"


@dataclass
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def clean_image(raw: bytes) -> CleanImage:
    """Decode ``raw`` and re-encode it without metadata; refuse anything else."""
    config = current_app.config
    if len(raw) > config["PHOTO_MAX_BYTES"]:
        raise ImageTooLarge(f"A photo may be at most {config['PHOTO_MAX_BYTES']} bytes.")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = ALIASES.get(probe.format, probe.format)
            width, height = probe.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise NotAnImage("Upload a JPEG, PNG or WebP photo.") from None
    if kind not in FORMATS:
        raise NotAnImage(f"{kind} images are not accepted; use JPEG, PNG or WebP.")
    if width * height > config["PHOTO_MAX_PIXELS"] or max(width, height) > config["PHOTO_MAX_SIDE"]:
        raise ImageTooLarge(f"A {width}x{height} image is too large to accept.")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if kind == "JPEG":
                image.draft("RGB", (MAX_STORED_SIDE, MAX_STORED_SIDE))  # decode smaller
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE))
            return _reencode(upright, kind)
    except Image.DecompressionBombError:
        raise ImageTooLarge("The image is too large to accept.") from None
    except Exception:  # Pillow raises many kinds (SyntaxError, struct.error, ...) on bad data
        raise NotAnImage("The image is damaged and cannot be read.") from None


def _reencode(image: Image.Image, kind: str) -> CleanImage:
    # a new image holding only the pixels: no EXIF, XMP, ICC, text chunks or comments
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    mode = "RGBA" if has_alpha and kind != "JPEG" else "RGB"
    pixels = Image.new(mode, image.size)
    pixels.paste(image.convert(mode))
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.save(out, "JPEG", quality=85)
    elif kind == "PNG":
        pixels.save(out, "PNG")
    else:
        pixels.save(out, "WEBP", quality=85)
    data = out.getvalue()
    return CleanImage(
        data=data,
        content_type=FORMATS[kind],
        width=pixels.width,
        height=pixels.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _path(sha256: str, content_type: str) -> Path:
    root = Path(current_app.config["UPLOAD_DIR"])
    if not root.is_absolute():
        root = PROJECT_ROOT / root
    return root / "photos" / sha256[:2] / f"{sha256}{EXTENSIONS[content_type]}"


def store(image: CleanImage) -> None:
    """Write the file under its content hash (atomically; the same photo is stored once)."""
    path = _path(image.sha256, image.content_type)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(image.data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(sha256: str, content_type: str) -> bytes | None:
    """The stored bytes, or None when the file has gone missing from the upload folder."""
    try:
        return _path(sha256, content_type).read_bytes()
    except FileNotFoundError:
        return None


def remove(sha256: str, content_type: str) -> None:
    _path(sha256, content_type).unlink(missing_ok=True)
