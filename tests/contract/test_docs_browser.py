"""/api/docs in a real browser: Debian's headless Chromium renders every operation, offline,
under the page's Content-Security-Policy, with no violation.

The test app is served on a free port (werkzeug, in a thread); Chromium loads the page with
every host but 127.0.0.1 unresolvable, dumps the DOM once the page's scripts have run, and
logs the console to stderr, where a CSP violation shows up. A probe page under the same
policy proves first that this Chromium reports violations there at all. Without Chromium
the test fails in CI (``CI`` set; .ci/run installs Chromium and sets it) and skips
elsewhere, saying how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from app.docs import CONTENT_SECURITY_POLICY

pytestmark = [pytest.mark.slow, pytest.mark.commits]

#: What the page loads: its own files and the document, nothing else (the icons: if asked).
NEEDED = {
    "/api/docs",
    "/api/docs/index.css",
    "/api/docs/swagger-ui.css",
    "/api/docs/swagger-ui-bundle.js",
    "/api/docs/init.js",
    "/api/v1/openapi.json",
}
ICONS = {"/api/docs/favicon-32x32.png", "/api/docs/favicon-16x16.png"}
BROWSERS = ("chromium", "chromium-browser")
CONSOLE = re.compile(r":CONSOLE[:(]")
PROBE = "/__probe__"
PROBE_PAGE = (
    b"<!DOCTYPE html><html><head><title>probe</title></head><body>"
    b'<script>console.log("probe: the inline script ran")</script>'
    b'<script src="' + PROBE.encode() + b'/probe.js"></script></body></html>'
)


def _chromium() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found:
        return found
    message = "needs Debian's headless Chromium: apt-get install chromium"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message} (CI must run this test; .ci/run installs it)")
    pytest.skip(message)


def _probe(environ, start_response):
    """A page breaking the docs page's policy (an inline script), and a script it allows."""
    if environ["PATH_INFO"].endswith("/probe.js"):
        start_response("200 OK", [("Content-Type", "text/javascript")])
        return [b'console.log("probe: the external script ran");']
    headers = [("Content-Type", "text/html"), ("Content-Security-Policy", CONTENT_SECURITY_POLICY)]
    start_response("200 OK", headers)
    return [PROBE_PAGE]


class Served:
    """The test app and the probe on one port, remembering each request's path and status."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        target = _probe if path.startswith(PROBE) else self.app

        def recording_start(status, headers, exc_info=None):
            self.requests.append((path, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return target(environ, recording_start)


@pytest.fixture
def served(app) -> Iterator[tuple[str, Served]]:
    recorder = Served(app)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = make_server("127.0.0.1", port, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=10)


def render(url: str, tmp_path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console's messages."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        # offline: any host but this one fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--enable-logging=stderr",
        "--v=0",
        # virtual time waits for network fetches: the document is loaded before the dump
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    console = [line for line in done.stderr.splitlines() if CONSOLE.search(line)]
    return done.stdout, console


def test_chromium_reports_a_violation_of_the_docs_policy(served, tmp_path):
    base, _ = served
    _dom, console = render(f"{base}{PROBE}/", tmp_path)
    text = "\n".join(console)
    assert "probe: the external script ran" in text, text
    assert "probe: the inline script ran" not in text, text
    assert "Content Security Policy" in text, text


def test_the_docs_page_renders_every_operation_with_no_violation(served, tmp_path, anonymous):
    base, recorder = served
    document = anonymous.get("/api/v1/openapi.json").get_json()
    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]

    dom, console = render(f"{base}/api/docs", tmp_path)

    assert not console, "\n".join(console)  # no CSP violation, no failed load, no error
    assert all(status == 200 for _, status in recorder.requests), recorder.requests
    fetched = {path for path, _ in recorder.requests}
    assert NEEDED <= fetched <= NEEDED | ICONS, sorted(fetched)
    blocks = re.findall(r'class="opblock opblock-(?:get|post|put|patch|delete)\b', dom)
    assert len(blocks) == len(operations), (len(blocks), len(operations))
    assert 'data-path="/api/v1/households"' in dom
    shown = set(re.findall(r'opblock-summary-operation-id">([^<]+)<', dom))
    named = {op["operationId"] for _, op in operations if "operationId" in op}
    assert "getVersion" in named
    assert named <= shown, sorted(named - shown)
