"""Settings per environment, overridden by ``SAFEPASSAGE_*`` environment variables.

``SAFEPASSAGE_ENV`` picks the environment (``development``, ``testing``, ``production``);
every other setting can be overridden by an environment variable named after it with the
``SAFEPASSAGE_`` prefix (``SAFEPASSAGE_DATABASE_URL`` overrides ``DATABASE_URL``).
"""

from __future__ import annotations

import os
from typing import Any

from config.defaults import DEFAULT_SECRET_KEY, Defaults
from config.development import Development
from config.production import Production
from config.testing import Testing

ENVIRONMENTS: dict[str, type[Defaults]] = {
    "development": Development,
    "testing": Testing,
    "production": Production,
}
PREFIX = "SAFEPASSAGE_"


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
        if "DATABASE_URL" not in explicit or not settings["DATABASE_URL"].strip():
            raise ConfigError("production needs SAFEPASSAGE_DATABASE_URL set explicitly")
    return settings
