"""Settings per environment, overridden by ``SAFEPASSAGE_*`` environment variables.

``SAFEPASSAGE_ENV`` picks the environment (``development``, ``testing``, ``production``);
every other setting can be overridden by an environment variable named after it with the
``SAFEPASSAGE_`` prefix (``SAFEPASSAGE_DATABASE_URL`` overrides ``DATABASE_URL``).
"""

from __future__ import annotations

import os
from typing import Any

from config.defaults import DEFAULT_AUDIT_KEY, DEFAULT_SECRET_KEY, MIN_SECRET_LENGTH, Defaults
from config.development import Development
from config.production import Production
from config.testing import Testing

ENVIRONMENTS: dict[str, type[Defaults]] = {
    "development": Development,
    "testing": Testing,
    "production": Production,
}
PREFIX = "SAFEPASSAGE_"
#: Stores the login throttle can count in (app.auth.throttle): one process, or Redis. Not
#: a Redis Cluster: the throttle's script takes slots in several keys at once, which a
#: cluster refuses unless they share a hash slot.
THROTTLE_STORES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel")


class ConfigError(RuntimeError):
    """The settings cannot be used; the message is one line for the operator."""


def _coerce(current: Any, raw: str) -> Any:
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return raw


def load(env: str | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings of ``env`` (default: ``SAFEPASSAGE_ENV`` or development) as a dict."""
    environ = os.environ if environ is None else environ
    env = env or environ.get(f"{PREFIX}ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"SAFEPASSAGE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    base = ENVIRONMENTS[env]
    settings = {k: getattr(base, k) for k in dir(base) if k.isupper()}
    explicit = set()
    for key, current in settings.items():
        raw = environ.get(PREFIX + key)
        if raw is not None:
            try:
                settings[key] = _coerce(current, raw)
            except ValueError as exc:
                raise ConfigError(f"{PREFIX}{key}: {exc}") from None
            explicit.add(key)
    settings["ENV"] = env
    if env == "production":
        if settings["SECRET_KEY"].strip() in ("", DEFAULT_SECRET_KEY):
            raise ConfigError("production needs SAFEPASSAGE_SECRET_KEY set to a secret of its own")
        if settings["AUDIT_KEY"].strip() in ("", DEFAULT_AUDIT_KEY):
            raise ConfigError(
                "production needs SAFEPASSAGE_AUDIT_KEY set to a secret of its own "
                "(it keys the audit chain; keep it out of the database and its backups)"
            )
        for key in ("SECRET_KEY", "AUDIT_KEY"):
            if len(settings[key].strip()) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"production needs {PREFIX}{key} of at least {MIN_SECRET_LENGTH} characters"
                )
        if settings["AUDIT_KEY"] == settings["SECRET_KEY"]:
            raise ConfigError("SAFEPASSAGE_AUDIT_KEY must differ from SAFEPASSAGE_SECRET_KEY")
        if "DATABASE_URL" not in explicit or not settings["DATABASE_URL"].strip():
            raise ConfigError("production needs SAFEPASSAGE_DATABASE_URL set explicitly")
        # without scheduled checkpoints, events cut from the chain's end go unnoticed
        if not settings["AUDIT_CHECKPOINT_PATH"].strip():
            raise ConfigError(
                "production needs SAFEPASSAGE_AUDIT_CHECKPOINT_PATH: a file outside the "
                "database where the service writes checkpoints of the audit chain's head"
            )
        if (
            settings["AUDIT_CHECKPOINT_EVERY_EVENTS"] <= 0
            and settings["AUDIT_CHECKPOINT_EVERY_MINUTES"] <= 0
        ):
            raise ConfigError(
                "production needs SAFEPASSAGE_AUDIT_CHECKPOINT_EVERY_EVENTS or "
                "SAFEPASSAGE_AUDIT_CHECKPOINT_EVERY_MINUTES above 0"
            )
    storage_scheme = settings["RATELIMIT_STORAGE_URI"].strip().partition("://")[0]
    if storage_scheme not in THROTTLE_STORES:
        raise ConfigError(
            f"SAFEPASSAGE_RATELIMIT_STORAGE_URI must start with one of "
            f"{', '.join(s + '://' for s in THROTTLE_STORES)}"
        )
    if env == "production" and storage_scheme == "memory":
        # each worker would count on its own: n workers let through n times the guesses
        raise ConfigError(
            "production needs SAFEPASSAGE_RATELIMIT_STORAGE_URI set to a shared Redis "
            "(redis://host:6379/0): memory:// counts failed logins per worker"
        )
    return settings
