"""Settings per environment, environment-variable overrides, and production's refusals."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import config
from app.extensions import PROJECT_ROOT
from config.defaults import DEFAULT_AUDIT_KEY, DEFAULT_SECRET_KEY

SECRET = "a-long-random-production-secret-4d1c9e"
AUDIT_KEY = "another-long-random-audit-chain-key-7f02b8"
CHECKPOINT_PATH = "/var/lib/safepassage/audit-checkpoints.jsonl"
PG_URL = "postgresql+psycopg://safepassage@db.internal/safepassage"
REDIS_URL = "redis://cache.internal:6379/0"


def test_development_is_the_default():
    settings = config.load(environ={})
    assert settings["ENV"] == "development"
    assert settings["DATABASE_URL"].startswith("sqlite:///")
    assert settings["TOKEN_TTL_HOURS"] == 12
    assert settings["LOGIN_LIMIT_PER_USERNAME"] == "5 per minute;20 per hour"


def test_environment_is_chosen_by_variable():
    settings = config.load(environ={"SAFEPASSAGE_ENV": "testing"})
    assert settings["ENV"] == "testing"
    assert settings["TESTING"] is True


def test_unknown_environment_is_refused():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_ENV"):
        config.load(environ={"SAFEPASSAGE_ENV": "staging"})
    with pytest.raises(config.ConfigError):
        config.load("staging", environ={})


def test_variables_override_settings_with_their_types():
    settings = config.load(
        "development",
        environ={
            "SAFEPASSAGE_TOKEN_TTL_HOURS": "3",
            "SAFEPASSAGE_DATABASE_URL": "sqlite:////tmp/elsewhere.db",
            "SAFEPASSAGE_UPLOAD_DIR": "/srv/uploads",
            "SAFEPASSAGE_LOGIN_LIMIT_PER_USERNAME": "3 per minute",
            "SAFEPASSAGE_TESTING": "yes",
        },
    )
    assert settings["TOKEN_TTL_HOURS"] == 3
    assert isinstance(settings["TOKEN_TTL_HOURS"], int)
    assert settings["DATABASE_URL"] == "sqlite:////tmp/elsewhere.db"
    assert settings["UPLOAD_DIR"] == "/srv/uploads"
    assert settings["LOGIN_LIMIT_PER_USERNAME"] == "3 per minute"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("false", False)])
def test_boolean_settings_are_parsed(raw, expected):
    assert config.load("testing", environ={"SAFEPASSAGE_TESTING": raw})["TESTING"] is expected


def test_a_malformed_number_is_a_config_error():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_TOKEN_TTL_HOURS"):
        config.load("development", environ={"SAFEPASSAGE_TOKEN_TTL_HOURS": "twelve"})


def test_variables_without_the_prefix_are_ignored():
    settings = config.load("development", environ={"TOKEN_TTL_HOURS": "3", "SECRET_KEY": "x"})
    assert settings["TOKEN_TTL_HOURS"] == 12
    assert settings["SECRET_KEY"] == DEFAULT_SECRET_KEY


def test_production_refuses_the_default_secret():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_SECRET_KEY"):
        config.load("production", environ={"SAFEPASSAGE_DATABASE_URL": PG_URL})
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_SECRET_KEY"):
        config.load(
            "production",
            environ={
                "SAFEPASSAGE_DATABASE_URL": PG_URL,
                "SAFEPASSAGE_SECRET_KEY": DEFAULT_SECRET_KEY,
            },
        )


def test_production_refuses_an_empty_secret():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_SECRET_KEY"):
        config.load(
            "production",
            environ={"SAFEPASSAGE_DATABASE_URL": PG_URL, "SAFEPASSAGE_SECRET_KEY": "  "},
        )


@pytest.mark.parametrize("url", [None, "", "  "])
def test_production_refuses_a_missing_database_url(url):
    environ = {"SAFEPASSAGE_SECRET_KEY": SECRET, "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY}
    if url is not None:
        environ["SAFEPASSAGE_DATABASE_URL"] = url
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_DATABASE_URL"):
        config.load("production", environ=environ)


def test_production_starts_with_a_secret_and_a_database_url():
    settings = config.load(
        environ={
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
            "SAFEPASSAGE_DATABASE_URL": PG_URL,
            "SAFEPASSAGE_RATELIMIT_STORAGE_URI": REDIS_URL,
            "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH": CHECKPOINT_PATH,
        }
    )
    assert settings["ENV"] == "production"
    assert settings["AUDIT_CHECKPOINT_PATH"] == CHECKPOINT_PATH
    assert settings["SECRET_KEY"] == SECRET
    assert settings["DATABASE_URL"] == PG_URL
    assert settings["TOKEN_TTL_HOURS"] == 12
    assert "TESTING" not in settings or settings["TESTING"] is False


def test_testing_uses_cheap_password_hashing():
    """The test suite's own settings must not make argon2 the bottleneck."""
    testing, production = (
        config.load("testing", environ={}),
        config.load(
            "production",
            environ={
                "SAFEPASSAGE_SECRET_KEY": SECRET,
                "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
                "SAFEPASSAGE_DATABASE_URL": PG_URL,
                "SAFEPASSAGE_RATELIMIT_STORAGE_URI": REDIS_URL,
                "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH": CHECKPOINT_PATH,
            },
        ),
    )
    assert testing["ARGON2_MEMORY_COST"] < production["ARGON2_MEMORY_COST"]
    assert production["ARGON2_MEMORY_COST"] >= 65536


def _start_wsgi(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPASSAGE_")}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_server_refuses_to_start_without_a_secret():
    result = _start_wsgi({"SAFEPASSAGE_ENV": "production"})
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_production_server_refuses_to_start_without_a_database_url():
    result = _start_wsgi(
        {
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
        }
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_DATABASE_URL" in lines[0]


# --- secrets long enough, and the audit key ----------------------------------------------


def _production(**environ: str) -> dict:
    base = {
        "SAFEPASSAGE_SECRET_KEY": SECRET,
        "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
        "SAFEPASSAGE_DATABASE_URL": PG_URL,
        "SAFEPASSAGE_RATELIMIT_STORAGE_URI": REDIS_URL,
        "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH": CHECKPOINT_PATH,
    }
    base.update(environ)
    return config.load("production", environ={k: v for k, v in base.items() if v is not None})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_SECRET_KEY of at least 32"):
        _production(SAFEPASSAGE_SECRET_KEY="x" * 31)
    assert _production(SAFEPASSAGE_SECRET_KEY="x" * 32)["SECRET_KEY"] == "x" * 32


@pytest.mark.parametrize("value", [None, "", "   "])
def test_production_refuses_a_missing_audit_key(value):
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_AUDIT_KEY"):
        _production(SAFEPASSAGE_AUDIT_KEY=value)


def test_production_refuses_a_short_or_default_audit_key():
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_AUDIT_KEY of at least 32"):
        _production(SAFEPASSAGE_AUDIT_KEY="k" * 31)
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_AUDIT_KEY set to a secret"):
        _production(SAFEPASSAGE_AUDIT_KEY=DEFAULT_AUDIT_KEY)
    with pytest.raises(config.ConfigError, match="must differ"):
        _production(SAFEPASSAGE_AUDIT_KEY=SECRET)
    assert _production()["AUDIT_KEY"] == AUDIT_KEY


def test_development_and_testing_have_a_dev_only_audit_key():
    for env in ("development", "testing"):
        key = config.load(env, environ={})["AUDIT_KEY"]
        assert key == DEFAULT_AUDIT_KEY
        assert "dev-only" in key


def test_production_server_refuses_to_start_without_an_audit_key():
    result = _start_wsgi(
        {
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_DATABASE_URL": PG_URL,
        }
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_AUDIT_KEY" in lines[0]
    assert result.stdout == ""


# --- the login throttle's store ----------------------------------------------------------


def test_production_refuses_per_process_login_counters():
    """memory:// counts in each worker: n workers would let through n times the guesses."""
    for value in (None, "memory://"):
        with pytest.raises(config.ConfigError, match="SAFEPASSAGE_RATELIMIT_STORAGE_URI") as err:
            _production(SAFEPASSAGE_RATELIMIT_STORAGE_URI=value)
        assert "\n" not in str(err.value)
    settings = _production(SAFEPASSAGE_RATELIMIT_STORAGE_URI="rediss://cache.internal:6380/2")
    assert settings["RATELIMIT_STORAGE_URI"] == "rediss://cache.internal:6380/2"


def test_development_and_testing_may_count_in_memory():
    for env in ("development", "testing"):
        assert config.load(env, environ={})["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize(
    "uri",
    ["memcached://cache.internal:11211", "mongodb://db/x", "cache", "redis+cluster://c:7000"],
)
def test_a_store_the_login_throttle_cannot_use_is_refused(uri):
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_RATELIMIT_STORAGE_URI"):
        config.load("development", environ={"SAFEPASSAGE_RATELIMIT_STORAGE_URI": uri})


def test_production_server_refuses_to_start_with_per_process_login_counters():
    result = _start_wsgi(
        {
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
            "SAFEPASSAGE_DATABASE_URL": PG_URL,
            "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH": CHECKPOINT_PATH,
        }
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_RATELIMIT_STORAGE_URI" in lines[0]
    assert result.stdout == ""


# --- scheduled audit checkpoints -----------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_production_refuses_to_run_without_scheduled_audit_checkpoints(value):
    """Without the service's own checkpoints, events cut from the chain's end go unseen."""
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_AUDIT_CHECKPOINT_PATH"):
        _production(SAFEPASSAGE_AUDIT_CHECKPOINT_PATH=value)


def test_production_refuses_a_checkpoint_schedule_that_never_fires():
    with pytest.raises(config.ConfigError, match="CHECKPOINT_EVERY_EVENTS or"):
        _production(
            SAFEPASSAGE_AUDIT_CHECKPOINT_EVERY_EVENTS="0",
            SAFEPASSAGE_AUDIT_CHECKPOINT_EVERY_MINUTES="0",
        )
    settings = _production(SAFEPASSAGE_AUDIT_CHECKPOINT_EVERY_EVENTS="0")
    assert settings["AUDIT_CHECKPOINT_EVERY_MINUTES"] == 60


def test_development_and_testing_may_run_without_checkpoints():
    for env in ("development", "testing"):
        assert config.load(env, environ={})["AUDIT_CHECKPOINT_PATH"] == ""


def test_production_server_refuses_to_start_without_a_checkpoint_path():
    result = _start_wsgi(
        {
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_AUDIT_KEY": AUDIT_KEY,
            "SAFEPASSAGE_DATABASE_URL": PG_URL,
            "SAFEPASSAGE_RATELIMIT_STORAGE_URI": REDIS_URL,
        }
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_AUDIT_CHECKPOINT_PATH" in lines[0]
    assert result.stdout == ""
