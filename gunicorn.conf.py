"""gunicorn settings for Safe Passage: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Environment (all optional):

* ``SAFEPASSAGE_BIND``: where to listen (default ``127.0.0.1:8000``: behind a reverse proxy).
* ``SAFEPASSAGE_WORKERS``: worker processes (default: 2 per CPU plus 1, at most 8).
* ``SAFEPASSAGE_THREADS``: threads per worker (default 1; above 1 the workers are gthread).
* ``SAFEPASSAGE_TIMEOUT``: seconds a request may run before its worker is replaced (30).
* ``SAFEPASSAGE_ACCESS_LOG``: ``-`` to also write gunicorn's access log, as JSON lines, to
  standard output. Off by default: the app logs every request it answers itself, as JSON
  with the request id (``SAFEPASSAGE_LOG_FORMAT``).

Every answer is an RFC 9457 problem, even one gunicorn gives before the app sees the
request: the request limits below sit above the app's own (``MAX_URL_LENGTH``,
``MAX_HEADER_COUNT``, ``MAX_HEADER_BYTES``), so the app refuses an oversized request
itself (414 ``uri_too_long``, 431 ``headers_too_large``); what gunicorn still refuses (past
its caps, or not HTTP at all) it answers with the same kind of problem, written by
``write_problem`` below instead of its HTML page.
"""

from __future__ import annotations

import http
import json
import logging
import os

from gunicorn import glogging, util


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# --- processes ---------------------------------------------------------------------------

bind = os.environ.get("SAFEPASSAGE_BIND", "127.0.0.1:8000")
#: Each sync worker answers one request at a time and holds at most a couple of database
#: connections; mind PostgreSQL's max_connections when raising this.
workers = _env_int("SAFEPASSAGE_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _env_int("SAFEPASSAGE_THREADS", 1)
#: A request running longer than this gets its worker killed and replaced (the client sees
#: the connection close); the database gives up on connecting after 5 s, well before.
timeout = _env_int("SAFEPASSAGE_TIMEOUT", 30)
#: On SIGTERM or reload, requests under way get this long to finish.
graceful_timeout = 30
#: Seconds an idle keep-alive connection stays open (the proxy in front reuses it).
keepalive = 5
#: Replace each worker after about this many requests (bounds any slow leak).
max_requests = 1000
max_requests_jitter = 100
#: No control socket (gunicorn 25.1+): no management interface to guard, and no clash
#: between two instances over the default path in the user's home.
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeats in memory, not on a possibly slow disk

# --- request limits ----------------------------------------------------------------------
# gunicorn refuses before the app: a request line longer than limit_request_line (414), more
# header fields than limit_request_fields, one field longer than limit_request_field_size,
# or a header block over fields x (field size + 2) bytes (431).
#
# limit_request_line: 8190 is gunicorn's cap (a larger value counts as 8190). 0 would mean
# "unlimited", and gunicorn's parser would then read an endless request line into memory:
# not used. So URLs the app refuses (over MAX_URL_LENGTH, 4096 bytes) up to about 8170
# bytes get the app's 414; longer ones gunicorn's 414, as a problem too.
limit_request_line = 8190
#: Above the app's MAX_HEADER_COUNT (100): the app answers up to 200 fields.
limit_request_fields = 200
#: One field up to 32 KiB reaches the app (whose total limit, MAX_HEADER_BYTES, is 16 KiB).
#: 0 does not mean unlimited here: gunicorn takes it as its default, 8190.
limit_request_field_size = 32768

# --- logs --------------------------------------------------------------------------------

errorlog = "-"  # standard error
loglevel = os.environ.get("SAFEPASSAGE_GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("SAFEPASSAGE_ACCESS_LOG") or None


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, with the same keys as the app's (app/logs.py)."""

    EXTRAS = ("method", "path", "status", "bytes", "duration_ms", "request_id")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.EXTRAS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class JsonLogger(glogging.Logger):
    """gunicorn's error and access logs as JSON lines; access lines name the path without
    its query string (which may carry a name searched for), and no client address."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonLineFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.cfg.accesslog:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((name.lower(), value) for name, value in resp.headers)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": int(status),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "request_id": headers.get("x-request-id", "-"),
            },
        )


logger_class = JsonLogger

# --- gunicorn's own refusals as problems -------------------------------------------------

#: The app's codes for the same refusals (app/web/limits.py, app/errors.py).
PROBLEM_CODES = {414: "uri_too_long", 431: "headers_too_large", 500: "internal_error"}
PROBLEM_DETAILS = {
    400: "The request is not valid HTTP/1.1.",
    414: f"The URL is longer than the server accepts (its request line: {limit_request_line} "
    "bytes at most).",
    431: "The request has more header fields, or larger ones, than the server accepts.",
    500: "Something went wrong on our side.",
}


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn answers for a request it refuses itself: an RFC 9457 problem. Its own
    message (``mesg``) may quote the request, so it is logged by gunicorn, not sent back."""
    code = PROBLEM_CODES.get(status_int) or http.HTTPStatus(status_int).name.lower()
    body = json.dumps(
        {
            "type": f"urn:safe-passage:problem:{code}",
            "title": reason,
            "status": status_int,
            "code": code,
            "detail": PROBLEM_DETAILS.get(status_int, reason + "."),
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


# gunicorn has no setting for the body of its own error answers; every worker type sends
# them through this one function (gunicorn.workers.base.Worker.handle_error).
util.write_error = write_problem
