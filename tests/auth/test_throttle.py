"""The login throttle's counters, in each store it can use: one process's memory, Redis.

Slots are taken before the password is checked, in every bucket or in none, and given
back after a successful login to the window they came from only. The Redis cases need
Redis at SAFEPASSAGE_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from limits.storage import MemoryStorage, storage_from_string

from app.auth import throttle
from app.errors import TooManyRequests
from app.extensions import limiter

REDIS_URL = os.environ.get("SAFEPASSAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOME = "203.0.113.20"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.slow)])
def store(request, app, monkeypatch):
    """The limiter's store for this test: the app's memory://, or a Redis of its own keys."""
    if request.param == "memory":
        assert isinstance(limiter.storage, MemoryStorage)
        yield limiter.storage
        return
    storage = storage_from_string(REDIS_URL)
    if not storage.check():
        pytest.fail(f"these tests need Redis at {REDIS_URL} (SAFEPASSAGE_TEST_REDIS_URL)")
    prefix = f"sp-test-{uuid.uuid4().hex[:12]}/"
    monkeypatch.setitem(app.config, "RATELIMIT_KEY_PREFIX", prefix)
    # the app's limiter counts in this Redis for the length of the test
    monkeypatch.setattr(limiter, "_storage", storage)
    try:
        yield storage
    finally:
        connection = storage.get_connection()
        for key in connection.scan_iter(match=f"*{prefix}*", count=1000):
            connection.delete(key)


def test_parallel_guesses_never_get_more_checks_than_the_limit(app, store):
    """Forty threads guess at once; only as many as the limit may go on to a password check."""
    admitted: list[throttle.LoginAttempt] = []
    refused: list[TooManyRequests] = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def guess(i: int) -> None:
        with app.app_context():
            start.wait()
            try:
                attempt = throttle.begin_login("corin", f"198.51.100.{i}", None)
            except TooManyRequests as error:
                with lock:
                    refused.append(error)
            else:
                with lock:
                    admitted.append(attempt)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # LOGIN_LIMIT_PER_USERNAME_ANYWHERE: 30 per minute, a window from the first attempt
    assert len(admitted) == 30
    assert len(refused) == 10
    assert all(0 < int(error.headers["Retry-After"]) <= 60 for error in refused)


def test_a_successful_login_gives_its_slots_back(app, store):
    with app.app_context():
        for _ in range(20):
            throttle.begin_login("corin", HOME, None).succeeded()
        for _ in range(5):
            throttle.begin_login("corin", HOME, None)
        with pytest.raises(TooManyRequests) as refused:
            throttle.begin_login("corin", HOME, None)
    assert 0 < int(refused.value.headers["Retry-After"]) <= 60


def test_a_refused_attempt_takes_no_slot_elsewhere(app, store):
    """A stranger refused for one address cannot use up the username's other buckets."""
    with app.app_context():
        for _ in range(5):
            throttle.begin_login("corin", "198.51.100.1", None)
        for _ in range(50):
            with pytest.raises(TooManyRequests):
                throttle.begin_login("corin", "198.51.100.1", None)
        # the username's bucket from anywhere (30 per minute) still has 25 slots
        for i in range(25):
            throttle.begin_login("corin", f"198.51.100.{i + 2}", None)
        with pytest.raises(TooManyRequests):
            throttle.begin_login("corin", "198.51.100.99", None)


def test_a_slot_goes_back_only_to_its_own_window(app, store, monkeypatch):
    """A login that succeeds after its window ended gives nothing to the next window."""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "1 per second")
    with app.app_context():
        slow_login = throttle.begin_login("corin", HOME, None)  # the first window's slot
        time.sleep(1.2)
        throttle.begin_login("dana", HOME, None)  # the second window's only slot
        slow_login.succeeded()
        with pytest.raises(TooManyRequests):
            throttle.begin_login("erin", HOME, None)


def test_a_device_has_a_bucket_of_its_own(app, store):
    with app.app_context():
        for _ in range(5):
            throttle.begin_login("corin", HOME, None)
        with pytest.raises(TooManyRequests):
            throttle.begin_login("corin", HOME, None)
        # the device's bucket is apart: 5 more, then it is locked and falls back to the
        # untrusted buckets, which are full
        for _ in range(5):
            throttle.begin_login("corin", HOME, "device-1")
        with pytest.raises(TooManyRequests):
            throttle.begin_login("corin", HOME, "device-1")
        # another device of the same user is not affected
        throttle.begin_login("corin", HOME, "device-2")


def test_the_throttle_store_holds_no_usernames_or_addresses(app, store):
    with app.app_context():
        throttle.begin_login("corin-the-coordinator", "198.51.100.77", None)
    if isinstance(store, MemoryStorage):
        keys = [str(key) for key in store.storage]
    else:
        prefix = app.config["RATELIMIT_KEY_PREFIX"]
        keys = [k.decode() for k in store.get_connection().scan_iter(match=f"*{prefix}*")]
    assert len(keys) == 6  # three buckets, each counted per minute and per hour
    assert not any("corin" in key or "198.51.100.77" in key for key in keys)


def test_a_disabled_limiter_counts_nothing(app, store, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)
    with app.app_context():
        attempts = [throttle.begin_login("corin", HOME, None) for _ in range(50)]
        assert all(attempt.slots == [] for attempt in attempts)
        monkeypatch.setattr(limiter, "enabled", True)
        # nothing was counted while it was off: the full allowance is there
        for _ in range(5):
            throttle.begin_login("corin", HOME, None)
        with pytest.raises(TooManyRequests):
            throttle.begin_login("corin", HOME, None)
