"""Helpers for conditional requests: the ETag to send back as If-Match."""

from __future__ import annotations


def etag_of(client, url: str) -> str:
    """The current ETag of ``url``, read with a GET as ``client`` (an ApiClient).

    ETags are hashes of what an answer shows, so a test cannot write one down: it reads
    it. The GET is a look like any other — of a person, it is audited.
    """
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    value = response.headers.get("ETag")
    assert value, f"GET {url} carries no ETag"
    return value
