"""Settings per environment, environment-variable overrides, and production's refusals."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import config
from app.extensions import PROJECT_ROOT
from config.defaults import DEFAULT_SECRET_KEY

SECRET = "a-long-random-production-secret"
PG_URL = "postgresql+psycopg://safepassage@db.internal/safepassage"


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
    environ = {"SAFEPASSAGE_SECRET_KEY": SECRET}
    if url is not None:
        environ["SAFEPASSAGE_DATABASE_URL"] = url
    with pytest.raises(config.ConfigError, match="SAFEPASSAGE_DATABASE_URL"):
        config.load("production", environ=environ)


def test_production_starts_with_a_secret_and_a_database_url():
    settings = config.load(
        environ={
            "SAFEPASSAGE_ENV": "production",
            "SAFEPASSAGE_SECRET_KEY": SECRET,
            "SAFEPASSAGE_DATABASE_URL": PG_URL,
        }
    )
    assert settings["ENV"] == "production"
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
            environ={"SAFEPASSAGE_SECRET_KEY": SECRET, "SAFEPASSAGE_DATABASE_URL": PG_URL},
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
    result = _start_wsgi({"SAFEPASSAGE_ENV": "production", "SAFEPASSAGE_SECRET_KEY": SECRET})
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "SAFEPASSAGE_DATABASE_URL" in lines[0]
