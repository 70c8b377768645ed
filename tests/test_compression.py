"""Compressed answers (app/compression.py): gzip when asked, identity otherwise, small
bodies and images as they are, and ETags that still work whichever form a client holds."""

from __future__ import annotations

import gzip
import io
import json
import os

import brotli
from flask import Flask, send_file, stream_with_context

from app.compression import init_compression

GZIP = {"Accept-Encoding": "gzip"}


def _households(make_household, team, count: int = 6) -> None:
    for n in range(count):
        make_household(team=team, locality=f"Riverside {n}", district="Mill quarter")


def test_a_list_comes_gzipped_when_asked_and_decodes_to_the_same_json(
    as_field_worker, make_household, team
):
    _households(make_household, team)
    plain = as_field_worker.get("/api/v1/households")
    packed = as_field_worker.get("/api/v1/households", headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) == len(packed.get_data())
    assert len(packed.get_data()) < len(plain.get_data())
    assert json.loads(gzip.decompress(packed.get_data())) == plain.get_json()
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "no-store"


def test_brotli_when_preferred_and_identity_when_refused(as_field_worker, make_household, team):
    _households(make_household, team)
    plain = as_field_worker.get("/api/v1/households").get_json()
    br = as_field_worker.get("/api/v1/households", headers={"Accept-Encoding": "gzip;q=0.5, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert json.loads(brotli.decompress(br.get_data())) == plain
    refused = as_field_worker.get(
        "/api/v1/households", headers={"Accept-Encoding": "identity, gzip;q=0"}
    )
    assert "Content-Encoding" not in refused.headers
    assert refused.get_json() == plain


def test_a_small_body_goes_as_it_is(anonymous):
    response = anonymous.get("/api/v1/version", headers=GZIP)
    assert response.status_code == 200
    assert len(response.get_data()) < 500
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["api_version"]


def test_a_problem_goes_as_it_is(anonymous):
    response = anonymous.get("/api/v1/me", headers=GZIP)
    assert response.status_code == 401
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["code"] == "unauthorized"


def test_head_carries_the_headers_of_the_compressed_get(as_field_worker, make_household, team):
    _households(make_household, team)
    got = as_field_worker.get("/api/v1/households", headers=GZIP)
    head = as_field_worker.client.head("/api/v1/households", headers=as_field_worker._headers(GZIP))
    assert head.status_code == 200
    assert head.headers["Content-Encoding"] == "gzip"
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.get_data() == b""


def test_the_etag_of_a_compressed_answer_works_for_if_none_match_and_if_match(
    as_field_worker, make_household, team, make_person
):
    household = make_household(team=team, notes="A long note. " * 40)
    url = f"/api/v1/households/{household.id}"
    packed = as_field_worker.get(url, headers=GZIP)
    plain = as_field_worker.get(url)
    assert packed.headers["Content-Encoding"] == "gzip"
    encoded, bare = packed.headers["ETag"], plain.headers["ETag"]
    assert encoded != bare  # another encoding, another strong validator

    for held in (encoded, bare):
        again = as_field_worker.get(url, headers={**GZIP, "If-None-Match": held})
        assert again.status_code == 304, held
        assert again.headers["ETag"] == held
        assert not again.get_data()
        unpacked = as_field_worker.get(url, headers={"If-None-Match": held})
        assert unpacked.status_code == 304, held

    changed = as_field_worker.patch(
        url, json={"priority": "high"}, headers={**GZIP, "If-Match": encoded}
    )
    assert changed.status_code == 200, changed.get_data()
    stale = as_field_worker.patch(url, json={"priority": "low"}, headers={"If-Match": encoded})
    assert stale.status_code == 412
    fresh = as_field_worker.get(url, headers={**GZIP, "If-None-Match": encoded})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == changed.headers["ETag"]


def test_if_match_on_a_compressed_get_is_ignored(as_field_worker, make_household, team):
    """If-Match conditions a change; a GET carrying one, current or stale, is answered as
    any GET (never flask-compress's 412 with the whole body)."""
    household = make_household(team=team, notes="A long note. " * 40)
    url = f"/api/v1/households/{household.id}"
    plain = as_field_worker.get(url)
    packed = as_field_worker.get(url, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"

    for held in (plain.headers["ETag"], packed.headers["ETag"], '"stale"', '"stale:gzip"'):
        again = as_field_worker.get(url, headers={**GZIP, "If-Match": held})
        assert again.status_code == 200, held
        assert again.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(again.get_data())) == plain.get_json()


def test_a_photo_goes_as_it_is(as_field_worker, make_offer, make_photo):
    from PIL import Image

    noise = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    offer = make_offer()
    photo = make_photo(offer, data=out.getvalue())
    url = f"/api/v1/housing-offers/{offer.id}/photos/{photo.id}"
    plain = as_field_worker.get(url)
    asked = as_field_worker.get(url, headers=GZIP)
    assert asked.status_code == 200
    assert asked.mimetype.startswith("image/")
    assert "Content-Encoding" not in asked.headers
    assert asked.get_data() == plain.get_data()
    assert len(asked.get_data()) > 500


def test_the_docs_files_come_compressed_and_revalidate(anonymous):
    plain = anonymous.get("/api/docs/swagger-ui-bundle.js")
    packed = anonymous.get("/api/docs/swagger-ui-bundle.js", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 3
    held = packed.headers["ETag"]
    assert held.endswith(':gzip"')
    for headers in ({**GZIP, "If-None-Match": held}, {"If-None-Match": held}):
        again = anonymous.get("/api/docs/swagger-ui-bundle.js", headers=headers)
        assert again.status_code == 304, headers
        assert again.headers["ETag"] == held
        assert not again.get_data()
    stale = anonymous.get(
        "/api/docs/swagger-ui-bundle.js", headers={**GZIP, "If-None-Match": '"other:gzip"'}
    )
    assert stale.status_code == 200
    page = anonymous.get("/api/docs", headers=GZIP)
    assert page.headers["Content-Encoding"] == "gzip"


def test_streamed_and_file_answers_are_left_alone(tmp_path):
    """No route of the app streams today; one that does keeps its bytes and length."""
    app = Flask(__name__)
    init_compression(app)
    text = "streamed line\n" * 200
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"rows": [text]}))

    @app.get("/stream")
    def stream():
        chunks = (line + "\n" for line in text.splitlines())
        return app.response_class(stream_with_context(chunks), mimetype="application/json")

    @app.get("/file")
    def file():
        return send_file(path, mimetype="application/json")

    client = app.test_client()
    any_coding = {"Accept-Encoding": "zstd, br, gzip"}
    streamed = client.get("/stream", headers=any_coding)
    assert "Content-Encoding" not in streamed.headers
    assert streamed.get_data(as_text=True) == text
    with client.get("/file", headers=any_coding) as sent:
        assert "Content-Encoding" not in sent.headers
        assert sent.headers["Content-Length"] == str(path.stat().st_size)
        assert sent.get_data() == path.read_bytes()
