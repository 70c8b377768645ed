"""Compressed answers for clients that accept them: field tablets pay for every byte.

flask-compress encodes JSON answers, the docs page and its scripts and styles with zstd, br
or gzip, whichever the client's ``Accept-Encoding`` prefers (ties: that order). Never
images (photos are compressed already), never bodies under ``COMPRESS_MIN_SIZE`` bytes,
never streamed answers, and never problems: flask-compress encodes 2xx answers only, and a
problem is a few hundred bytes. Every answer says ``Vary: Accept-Encoding``; a HEAD answer
carries the headers (Content-Encoding, Content-Length) its GET would.

ETags. An encoded answer is other bytes, so flask-compress gives it another strong ETag
(RFC 9110, 8.8.3): ``"abc"`` becomes ``"abc:gzip"``, and a client sends back whichever it
received. app/etags.py compares tags without that suffix (If-Match on a PATCH passes, a
current If-None-Match answers 304 naming the tag the client holds), and so does the docs
page's file route. flask-compress's own conditional evaluation
(``COMPRESS_EVALUATE_CONDITIONAL_REQUEST``) is off: it would run werkzeug's
``make_conditional`` on the encoded answer, and so answer a GET carrying a stale If-Match
with 412 and the whole body, where If-Match means nothing to a GET here.

BREACH (guessing a secret from the compressed size of answers that also reflect the
attacker's input) needs the attacker to make the victim's client send authenticated
requests; bearer tokens are not sent on their own the way cookies are, so it does not apply.
"""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress

#: Preferred first when the client likes several equally; deflate is left out (clients
#: have disagreed for decades whether it means zlib or raw deflate).
ALGORITHMS = ("zstd", "br", "gzip")
SETTINGS = {
    "COMPRESS_MIMETYPES": [
        "application/json",
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
    ],
    "COMPRESS_ALGORITHM": list(ALGORITHMS),
    # under a TCP segment's worth, compressing saves next to nothing
    "COMPRESS_MIN_SIZE": 500,
    "COMPRESS_LEVEL": 6,
    # a streamed answer (a file sent as it is read) keeps its length, ETag and ranges
    "COMPRESS_STREAMS": False,
    # app/etags.py (``not_modified``) and app/docs.py answer If-None-Match themselves
    "COMPRESS_EVALUATE_CONDITIONAL_REQUEST": False,
}


def init_compression(app: Flask) -> None:
    """Call after the response-header hooks are registered: Flask runs after_request hooks
    last-first, so compression comes before CORS adds its own ``Vary: Origin``."""
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    Compress(app)
