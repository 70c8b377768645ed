"""The login throttle: failed sign-ins counted in one store that every worker shares.

An attempt is counted in buckets, each a fixed window that starts at the bucket's first
attempt, with limits in Flask-Limiter's syntax (``5 per minute;20 per hour``):

* a client that presents no valid device cookie: per username and address, per username
  from anywhere, per address;
* a client that presents a valid device cookie for that username (it signed in from this
  device before; OWASP's "device cookies"): per device only, so strangers guessing the
  username elsewhere cannot lock it out. A device whose bucket is full is locked, and is
  counted like any untrusted client until its window ends.

An attempt takes a slot in every one of its buckets, or in none, in one atomic step in the
shared store, *before* the password is checked; a successful login gives its slots back.
However many workers or servers race, at most the limit of wrong passwords is checked per
window: each of them held a slot while it was checked. A slot is given back only to the
window it was taken from, never to a later one.

The counters live in Flask-Limiter's storage (``RATELIMIT_STORAGE_URI``): ``memory://``
for one process, Redis for several. Bucket keys are keyed hashes, so the store holds no
usernames or addresses. When the store is down, logins fail closed (503).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from functools import cache

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage

from app.errors import ServiceUnavailable, TooManyRequests
from app.extensions import limiter

log = logging.getLogger(__name__)

REFUSED = "Too many failed logins. Wait before trying again."

#: KEYS: the buckets; ARGV: limit and window length (ms) of each, in turn. Takes a slot in
#: every bucket or, if any is full, in none. Returns {1, expiry of each bucket (ms since
#: the epoch, server clock)} or {0, ms until the full bucket's window ends}.
_TAKE = """
local now = redis.call('time')
now = now[1] * 1000 + math.floor(now[2] / 1000)
for i, key in ipairs(KEYS) do
    local count = redis.call('incr', key)
    if count == 1 then
        redis.call('pexpire', key, ARGV[2 * i])
    end
    if count > tonumber(ARGV[2 * i - 1]) then
        local wait = redis.call('pttl', key)
        for j = 1, i do
            if redis.call('decr', KEYS[j]) <= 0 then
                redis.call('del', KEYS[j])
            end
        end
        return {0, wait}
    end
end
local expiries = {1}
for i, key in ipairs(KEYS) do
    expiries[i + 1] = now + redis.call('pttl', key)
end
return expiries
"""

#: KEYS[1]: a bucket; ARGV[1]: the expiry of the window the slot was taken from. A later
#: window of the same bucket ends at least a window's length later: it gets nothing back.
_GIVE_BACK = """
local now = redis.call('time')
now = now[1] * 1000 + math.floor(now[2] / 1000)
local ttl = redis.call('pttl', KEYS[1])
if ttl > 0 and math.abs(now + ttl - tonumber(ARGV[1])) < 500 then
    if redis.call('decr', KEYS[1]) <= 0 then
        redis.call('del', KEYS[1])
    end
end
return 0
"""


@cache
def _limits(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


@cache
def _scripts(storage: RedisStorage):
    connection = storage.get_connection()
    return connection.register_script(_TAKE), connection.register_script(_GIVE_BACK)


#: memory:// is one process: one lock makes a take over several buckets atomic.
_memory_lock = threading.Lock()


def _take_in_memory(
    storage: MemoryStorage, buckets: list[tuple[str, int, int]]
) -> list[float] | float:
    """Slots in every bucket (their window expiries), or the seconds until a full one frees."""
    with _memory_lock:
        taken = []
        for key, amount, length in buckets:
            if storage.get(key) >= amount:
                for done in taken:
                    storage.decr(done)
                return storage.get_expiry(key) - time.time()
            storage.incr(key, length)
            taken.append(key)
        return [storage.get_expiry(key) for key, _, _ in buckets]


def _give_back_in_memory(storage: MemoryStorage, key: str, expiry: float) -> None:
    with _memory_lock:
        if storage.get(key) > 0 and abs(storage.get_expiry(key) - expiry) < 0.5:
            storage.decr(key)


def _take(storage: Storage, buckets: list[tuple[str, int, int]]) -> list[float] | float:
    if isinstance(storage, RedisStorage):
        take, _ = _scripts(storage)
        args = [value for _, amount, length in buckets for value in (amount, length * 1000)]
        answer = take([storage.prefixed_key(key) for key, _, _ in buckets], args)
        if answer[0] == 0:
            return answer[1] / 1000
        return [expiry / 1000 for expiry in answer[1:]]
    if isinstance(storage, MemoryStorage):
        return _take_in_memory(storage, buckets)
    raise TypeError(f"the login throttle cannot count in {type(storage).__name__}")


def _give_back(storage: Storage, key: str, expiry: float) -> None:
    if isinstance(storage, RedisStorage):
        _, give_back = _scripts(storage)
        give_back([storage.prefixed_key(key)], [math.floor(expiry * 1000)])
    elif isinstance(storage, MemoryStorage):
        _give_back_in_memory(storage, key, expiry)


def _store_down(error: Exception) -> ServiceUnavailable:
    # fail closed: without its counters the throttle cannot hold, so nobody logs in
    log.error("login throttle store unavailable: %s", type(error).__name__)
    return ServiceUnavailable(
        "Logging in is unavailable for a moment. Try again shortly.",
        code="login_unavailable",
        retry_after=5,
    )


@dataclass
class LoginAttempt:
    """The slots one login attempt holds: (key, expiry of its window) each."""

    storage: Storage | None
    slots: list[tuple[str, float]] = field(default_factory=list)

    def succeeded(self) -> None:
        """A right password is not a guess: it counts towards no limit."""
        slots, self.slots = self.slots, []
        try:
            for key, expiry in slots:
                _give_back(self.storage, key, expiry)
        except self.storage.base_exceptions as error:  # the login stands; its slot stays taken
            log.warning("login throttle: slot not given back: %s", type(error).__name__)


def _hashed(identity: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"login-throttle\x00" + identity.encode(), hashlib.sha256).hexdigest()[:32]


def _buckets(username: str, address: str, device_id: str | None) -> list[tuple[str, int, int]]:
    """(key, limit, window length in seconds) of each bucket the attempt is counted in."""
    if device_id is not None:
        scopes = [("device", device_id, "LOGIN_LIMIT_PER_DEVICE")]
    else:
        scopes = [
            ("username-address", f"{username}\x00{address}", "LOGIN_LIMIT_PER_USERNAME"),
            ("username", username, "LOGIN_LIMIT_PER_USERNAME_ANYWHERE"),
            ("address", address, "LOGIN_LIMIT_PER_ADDRESS"),
        ]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    buckets = []
    for scope, identity, setting in scopes:
        hashed = _hashed(identity)
        for item in _limits(current_app.config[setting]):
            length = item.get_expiry()
            key = f"{prefix}login/{scope}/{item.amount}-per-{length}s/{hashed}"
            buckets.append((key, item.amount, length))
    return buckets


def _attempt(storage: Storage, buckets: list[tuple[str, int, int]]) -> LoginAttempt:
    try:
        taken = _take(storage, buckets)
    except storage.base_exceptions as error:
        raise _store_down(error) from None
    if isinstance(taken, list):
        slots = [(key, expiry) for (key, _, _), expiry in zip(buckets, taken, strict=True)]
        return LoginAttempt(storage, slots)
    raise TooManyRequests(REFUSED, retry_after=math.ceil(taken))


def begin_login(username: str, address: str, device_id: str | None) -> LoginAttempt:
    """Count a login attempt before its password is checked; 429 if a bucket is full.

    ``device_id`` is the device of a valid device cookie for ``username``, else None.
    """
    if not limiter.enabled:
        return LoginAttempt(None)
    storage = limiter.storage
    if device_id is not None:
        try:
            return _attempt(storage, _buckets(username, address, device_id))
        except TooManyRequests:
            pass  # a locked device cookie: the client is untrusted again (OWASP)
    return _attempt(storage, _buckets(username, address, None))
