"""A client generated from the served OpenAPI document runs the whole workflow (issue 9, 1-2).

As a client developer would: a real gunicorn on a free port, on a freshly migrated database
of its own (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), with a field worker in a
team and a coordinator. What is checked:

* the served document is valid OpenAPI 3 (openapi-spec-validator);
* the exact file the generator consumes (written from it and read back) is valid too, and
  equal to what was served;
* openapi-python-client generates a package from that file into a temporary folder and
  reports no warning: nothing skipped, nothing it could not type;
* ``generated_client_workflow.py`` drives the field-to-arrival workflow through that
  package alone, in a process of its own.

The generator writes no document back, so no document "after a round trip through the
generator" is validated: these checks are what stands for that part of issue 9, point 1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from openapi_spec_validator import validate

from app.auth import service as auth_service
from app.auth.permissions import OPERATOR
from app.cli import alembic_config
from app.extensions import PROJECT_ROOT, db
from tests.built_app import built_app
from tests.conftest import PASSWORD, fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.commits]

HERE = Path(__file__).parent
WORKFLOW = HERE / "generated_client_workflow.py"
GENERATOR_CONFIG = HERE / "openapi-python-client.yaml"
PACKAGE = "safe_passage_client"
TEAM = "Team Riverside"
FIELD_WORKER = "oksana.field"
COORDINATOR = "marta.coord"


def create_accounts(database_url: str, uploads: Path) -> None:
    """A team, its field worker and a coordinator, made as an administrator would."""
    settings = {"ENV": "testing", "DATABASE_URL": database_url, "UPLOAD_DIR": str(uploads)}
    with built_app(settings) as app:
        with app.app_context():
            auth_service.create_team(OPERATOR, name=TEAM, area="Riverside")
            db.session.commit()
        runner = app.test_cli_runner()
        for username, role in ((FIELD_WORKER, "field_worker"), (COORDINATOR, "coordinator")):
            args = ["users", "create", username, "--role", role, "--password-stdin"]
            if role == "field_worker":
                args += ["--team", TEAM]
            created = runner.invoke(args=args, input=PASSWORD + "\n")
            assert created.exit_code == 0, created.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_url: str, folder: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPASSAGE_")}
    env.update(
        {
            "SAFEPASSAGE_ENV": "development",
            "SAFEPASSAGE_DATABASE_URL": database_url,
            "SAFEPASSAGE_UPLOAD_DIR": str(folder / "uploads"),
            "SAFEPASSAGE_BIND": f"127.0.0.1:{port}",
            "SAFEPASSAGE_WORKERS": "1",
            "SAFEPASSAGE_THREADS": "4",
            # the accounts' hashes were made at the test suite's argon2 cost
            "SAFEPASSAGE_ARGON2_TIME_COST": "1",
            "SAFEPASSAGE_ARGON2_MEMORY_COST": "8",
            "SAFEPASSAGE_ARGON2_PARALLELISM": "1",
            "SAFEPASSAGE_LOG_LEVEL": "WARNING",
        }
    )
    with open(folder / "gunicorn.err", "wb") as stderr:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def wait_until_healthy(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Served:
    base_url: str
    #: gunicorn's and the app's log (warnings and worse), shown when the workflow fails
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """The app served by gunicorn on a database of its own."""
    folder = tmp_path_factory.mktemp("served")
    with fresh_database(tmp_path_factory) as database_url:
        command.upgrade(alembic_config(database_url), "head")
        create_accounts(database_url, folder / "uploads")
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        process = start_gunicorn(database_url, folder, port)
        try:
            wait_until_healthy(base_url, process, folder / "gunicorn.err")
            yield Served(base_url, folder / "gunicorn.err")
        finally:
            stop(process)


def fetch_document(base_url: str, folder: Path) -> Path:
    """The served document, validated, written where the generator reads it, and the
    written file validated again: what the generator consumes is valid OpenAPI 3."""
    with urllib.request.urlopen(f"{base_url}/api/v1/openapi.json", timeout=15) as answer:
        assert answer.status == 200
        assert answer.headers.get_content_type() == "application/json"
        served = json.loads(answer.read())
    validate(served)
    path = folder / "openapi.json"
    path.write_text(json.dumps(served, indent=2))
    consumed = json.loads(path.read_text())
    validate(consumed)
    assert consumed == served
    return path


def generate_client(document: Path, folder: Path) -> Path:
    """openapi-python-client, as a client developer runs it; it formats what it writes with
    ruff (a post-hook), so the venv's bin directory comes first on PATH."""
    output = folder / PACKAGE
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--config",
            str(GENERATOR_CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(output),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    # all it says on success is "Generating <path>"; anything more is a warning about
    # something it skipped or could not type ("Warning(s) encountered while generating")
    extra = [
        line for line in said.splitlines() if line.strip() and not line.startswith("Generating ")
    ]
    assert not extra, f"openapi-python-client could not generate everything:\n{said}"
    assert (output / "api").is_dir() and (output / "models").is_dir(), said
    return output


def test_a_generated_client_runs_the_field_to_arrival_workflow(served, tmp_path):
    package = generate_client(fetch_document(served.base_url, tmp_path), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPASSAGE_")}
    env.update(
        {
            "PYTHONPATH": str(package.parent),
            "SP_FIELD_WORKER": FIELD_WORKER,
            "SP_COORDINATOR": COORDINATOR,
            "SP_PASSWORD": PASSWORD,
        }
    )
    run = subprocess.run(
        [sys.executable, str(WORKFLOW), served.base_url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, (
        f"the workflow failed:\n{output}\nthe server's log:\n{served.log.read_text()[-4000:]}"
    )
    assert output.rstrip().endswith("workflow complete"), output
