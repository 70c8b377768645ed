"""The login throttle holds across workers: gunicorn with two workers, counters in Redis.

Real HTTP to a served app, many guesses in parallel, and a count of what got through.
Redis must answer at SAFEPASSAGE_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); each
run uses keys of its own (RATELIMIT_KEY_PREFIX) and deletes them afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from app.auth.models import COORDINATOR
from app.extensions import PROJECT_ROOT
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.commits]

REDIS_URL = os.environ.get("SAFEPASSAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKENS = "/api/v1/auth/tokens"
WRONG = "wrong-password-here"
#: The defaults under test (config/defaults.py), per minute.
PER_USERNAME_AND_ADDRESS = 5
PER_USERNAME_ANYWHERE = 30
PER_ADDRESS = 20
READY = "safe-passage test worker ready"


@pytest.fixture
def redis_prefix():
    """A key prefix of this run's own; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"these tests need Redis at {REDIS_URL} (SAFEPASSAGE_TEST_REDIS_URL)")
    prefix = f"sp-test-{uuid.uuid4().hex[:12]}/"
    try:
        yield prefix, client
    finally:
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
        client.close()


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def login(self, username: str, password: str, address: str, **extra) -> tuple[int, dict]:
        """One login over a connection of its own, as from ``address`` behind the proxy."""
        status, body, _headers = self.login_answer(username, password, address, **extra)
        return status, body

    def login_answer(self, username: str, password: str, address: str, **extra):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST",
                TOKENS,
                body=json.dumps({"username": username, "password": password, **extra}),
                headers={"Content-Type": "application/json", "X-Forwarded-For": address},
            )
            response = connection.getresponse()
            body = json.loads(response.read() or b"{}")
            return response.status, body, dict(response.getheaders())
        finally:
            connection.close()


def _serve(database_url: str, storage_uri: str, prefix: str, tmp_path: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPASSAGE_")}
    env.update(
        {
            "SAFEPASSAGE_ENV": "development",
            "SAFEPASSAGE_DATABASE_URL": database_url,
            "SAFEPASSAGE_UPLOAD_DIR": str(tmp_path / "uploads"),
            "SAFEPASSAGE_RATELIMIT_STORAGE_URI": storage_uri,
            "SAFEPASSAGE_RATELIMIT_KEY_PREFIX": prefix,
            # one proxy in front: X-Forwarded-For names the client, as nginx would set it
            "SAFEPASSAGE_TRUSTED_PROXIES": "1",
            # the test users' hashes were made at the test suite's argon2 cost
            "SAFEPASSAGE_ARGON2_TIME_COST": "1",
            "SAFEPASSAGE_ARGON2_MEMORY_COST": "8",
            "SAFEPASSAGE_ARGON2_PARALLELISM": "1",
            "SAFEPASSAGE_LOG_LEVEL": "WARNING",
        }
    )
    # explicit flags and a config file of the test's own (independent of the project's
    # gunicorn.conf.py) whose hook says when each worker has loaded the app
    config_file = tmp_path / "gunicorn-test.conf.py"
    config_file.write_text(
        "def post_worker_init(worker):\n    worker.log.info('%s', " + repr(READY) + ")\n"
    )
    log = tmp_path / "gunicorn.log"
    with log.open("w") as log_file:  # the child keeps its own copy of the descriptor
        process = _start_gunicorn(config_file, env, log_file)
    deadline = time.monotonic() + 60
    port = None
    while time.monotonic() < deadline:
        text = log.read_text()
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({process.returncode}):\n{text}")
        for line in text.splitlines():
            if "Listening at: http://127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1].split()[0])
        if port is not None and text.count(READY) >= 2:
            server = Server(process, port, log)
            if _healthy(port):
                return server
        time.sleep(0.2)
    _stop(process)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text()}")


def _start_gunicorn(config_file: Path, env: dict[str, str], log_file) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(config_file),
            "--workers",
            "2",
            "--threads",
            "8",
            "--bind",
            "127.0.0.1:0",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "info",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def served(database_url, redis_prefix, tmp_path):
    prefix, _client = redis_prefix
    server = _serve(database_url, REDIS_URL, prefix, tmp_path)
    try:
        yield server
    finally:
        _stop(server.process)


def _burst(server: Server, attempts: list[tuple[str, str, str]]) -> Counter:
    """Send every (username, password, address) at once; how many got each status.

    A bucket's window starts at its first attempt and lasts a minute: a burst that ends
    within that minute may check no more guesses than the limit."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = Counter(status for status, _ in pool.map(lambda a: server.login(*a), attempts))
    assert time.monotonic() - started < 50, "the burst outlasted the one-minute window"
    return statuses


def test_parallel_guesses_at_one_account_from_one_address(served, make_user):
    make_user(COORDINATOR, username="corin")
    statuses = _burst(served, [("corin", WRONG, "198.51.100.10")] * 40)

    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] == PER_USERNAME_AND_ADDRESS, statuses
    assert statuses[429] == 40 - PER_USERNAME_AND_ADDRESS


def test_parallel_guesses_from_many_addresses_spare_a_known_device(served, make_user, redis_prefix):
    make_user(COORDINATOR, username="dana")
    status, body = served.login("dana", PASSWORD, "203.0.113.5", device_label="tablet 4")
    assert status == 201, body
    cookie = body["device_cookie"]

    # 45 strangers' addresses, 2 guesses each (under their own limits), all at once; the
    # known device signs in now and then in the middle of it
    attack = [("dana", WRONG, f"198.51.100.{i % 45 + 20}") for i in range(90)]
    own = ("dana", PASSWORD, "203.0.113.5")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        guesses = [pool.submit(served.login, *attempt) for attempt in attack]
        device = [pool.submit(served.login, *own, device_cookie=cookie) for _ in range(3)]
        statuses = Counter(future.result()[0] for future in guesses)
        device_answers = [future.result() for future in device]
    assert time.monotonic() - started < 50, "the attack outlasted the one-minute window"

    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] == PER_USERNAME_ANYWHERE, statuses
    for status, body in device_answers:
        assert status == 201, body
        assert body["user"]["username"] == "dana"

    # the username is locked for strangers, even one who knows the password...
    status, body = served.login("dana", PASSWORD, "192.0.2.77")
    assert status == 429, body
    # ...and for the real user on a device without the cookie, but not with it
    assert served.login("dana", PASSWORD, "203.0.113.5")[0] == 429
    status, body = served.login("dana", PASSWORD, "203.0.113.5", device_cookie=cookie)
    assert status == 201, body
    assert body["token"]

    # the counters were in Redis, under this run's prefix, naming no one
    prefix, client = redis_prefix
    keys = [key.decode() for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
    assert keys
    assert not any("dana" in key or "198.51.100" in key for key in keys)


def test_parallel_guesses_at_many_usernames_from_one_address(served):
    statuses = _burst(served, [(f"nobody{i}", WRONG, "198.51.100.200") for i in range(40)])

    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] == PER_ADDRESS, statuses


def test_per_process_counters_let_two_workers_through_twice(
    database_url, redis_prefix, tmp_path, make_user
):
    """Why production refuses memory://, and proof that both workers answer in these tests:
    each worker counts on its own, so together they check more guesses than the limit."""
    make_user(COORDINATOR, username="corin")
    server = _serve(database_url, "memory://", redis_prefix[0], tmp_path)
    try:
        # the kernel spreads the connections over the workers; a burst that happened to
        # reach only one of them proves nothing, so a fresh address gets another try
        for attempt in range(3):
            statuses = _burst(server, [("corin", WRONG, f"198.51.100.{10 + attempt}")] * 40)
            if statuses[401] > PER_USERNAME_AND_ADDRESS:
                break
    finally:
        _stop(server.process)

    assert PER_USERNAME_AND_ADDRESS < statuses[401] <= 2 * PER_USERNAME_AND_ADDRESS, statuses


def test_logins_fail_closed_when_redis_is_down(database_url, tmp_path, make_user):
    """Without its counters the throttle cannot hold: 503 and Retry-After, never a token."""
    make_user(COORDINATOR, username="corin")
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    server = _serve(database_url, nowhere, "unreachable/", tmp_path)
    try:
        status, body, headers = server.login_answer("corin", PASSWORD, "203.0.113.5")
        healthy = _healthy(server.port)
    finally:
        _stop(server.process)

    assert status == 503, body
    assert body["code"] == "login_unavailable"
    assert headers["Content-Type"] == "application/problem+json"
    assert int(headers["Retry-After"]) > 0
    assert "token" not in body
    assert healthy  # the rest of the service still answers
