"""The app served by gunicorn with the shipped gunicorn.conf.py (issue 8, point 8).

Every oversized request gets an RFC 9457 problem, whether the app refuses it (what a client
may plausibly send: gunicorn's limits sit above the app's) or gunicorn does (past its caps,
or not HTTP at all, answered by the config's problem writer instead of gunicorn's HTML).
A real gunicorn on a free port, a migrated SQLite file, raw HTTP from http.client/sockets.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from alembic import command

from app.cli import alembic_config
from app.extensions import PROJECT_ROOT

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, port: int, process: subprocess.Popen, stderr_path) -> None:
        self.port = port
        self.process = process
        self.stderr_path = stderr_path

    def request(self, target: str, headers: list[tuple[str, str]] = (), method: str = "GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{folder / 'served.db'}"
    command.upgrade(alembic_config(url), "head")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPASSAGE_")}
    env.update(
        {
            "SAFEPASSAGE_ENV": "development",
            "SAFEPASSAGE_DATABASE_URL": url,
            "SAFEPASSAGE_UPLOAD_DIR": str(folder / "uploads"),
            "SAFEPASSAGE_BIND": f"127.0.0.1:{port}",
            "SAFEPASSAGE_WORKERS": "1",
            "SAFEPASSAGE_LOG_LEVEL": "WARNING",
        }
    )
    stderr_path = folder / "gunicorn.err"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Served(port, process, stderr_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr_path.read_text()
            try:
                if server.request("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, stderr_path.read_text()
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def assert_problem(answer, status: int, code: str, *, by_app: bool) -> dict:
    got, headers, body = answer
    assert got == status, body[:300]
    assert headers["content-type"] == PROBLEM
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:safe-passage:problem:{code}"
    assert headers["x-content-type-options"] == "nosniff"
    # the app stamps every answer with a request id; gunicorn's own answers have none
    assert ("x-request-id" in headers) is by_app
    return problem


def test_a_normal_request_is_served(served):
    status, headers, body = served.request("/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok"}
    assert headers["x-request-id"]
    status, headers, body = served.request("/api/v1/me")
    assert_problem((status, headers, body), 401, "unauthorized", by_app=True)


def test_a_20_kb_url_gets_a_problem(served):
    problem = assert_problem(
        served.request("/api/v1/households?q=" + "a" * 20_000), 414, "uri_too_long", by_app=False
    )
    assert "8190" in problem["detail"]


def test_a_url_over_the_apps_limit_is_refused_by_the_app(served):
    problem = assert_problem(
        served.request("/api/v1/households?q=" + "a" * 6_000), 414, "uri_too_long", by_app=True
    )
    assert "4096" in problem["detail"]


def test_a_30_kb_header_gets_the_apps_problem(served):
    answer = served.request("/api/v1/me", [("X-Padding", "b" * 30_000)])
    assert_problem(answer, 431, "headers_too_large", by_app=True)


def test_150_headers_get_the_apps_problem(served):
    headers = [(f"X-Field-{n}", "c") for n in range(150)]
    problem = assert_problem(
        served.request("/api/v1/me", headers), 431, "headers_too_large", by_app=True
    )
    assert "header fields" in problem["detail"]


def test_beyond_gunicorns_caps_the_answer_is_still_a_problem(served):
    assert_problem(
        served.request("/healthz", [("X-Padding", "d" * 100_000)]),
        431,
        "headers_too_large",
        by_app=False,
    )
    assert_problem(
        served.request("/healthz", [(f"X-Field-{n}", "e") for n in range(250)]),
        431,
        "headers_too_large",
        by_app=False,
    )
    reply = served.raw(b"NOT HTTP AT ALL\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["code"] == "bad_request"


def test_gunicorns_own_log_lines_are_json(served):
    served.request("/healthz?" + "f" * 20_000)  # refused by gunicorn: it logs a warning
    time.sleep(0.5)
    lines = [line for line in served.stderr_path.read_text().splitlines() if '"gunicorn.' in line]
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "gunicorn.error" and e["level"] == "WARNING" for e in entries)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
