"""The unit of work (app/unit_of_work.py): one place begins, commits and rolls back, and
every commit-time hook is registered there, in the order its lists show."""

from __future__ import annotations

import ast
import contextlib
import pathlib
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import unit_of_work
from app.audit.chain import verify_chain
from app.audit.models import AuditEvent
from app.errors import Unauthorized
from app.extensions import db
from app.households import service as household_service
from app.households.models import Household
from app.idempotency.models import IdempotencyKey

APP = pathlib.Path(__file__).resolve().parent.parent / "app"
TRANSACTION_CALLS = frozenset({"commit", "rollback", "begin", "begin_nested"})

#: A request's transactions, both ways: on the test's one connection, rolled back at its end
#: (an own transaction is a savepoint on it), and committing for real as in production
#: (an own transaction is another connection's; on SQLite, inside the open one's).
BOTH_WAYS = pytest.mark.parametrize(
    "isolation", ["one_connection", pytest.param("commits", marks=pytest.mark.commits)]
)


def _transaction_calls(source: str) -> list[tuple[int, str]]:
    """Calls ``<anything>.commit(...)`` (rollback, begin, begin_nested) in ``source``:
    (line, name). Read from the syntax tree, so comments and strings do not count."""
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_CALLS
    ]


def _modules() -> list[pathlib.Path]:
    """Every module of app/ but the unit of work itself."""
    return sorted(p for p in APP.rglob("*.py") if p != APP / "unit_of_work.py")


def test_only_the_unit_of_work_begins_commits_or_rolls_back():
    found = [
        f"{path.relative_to(APP.parent)}:{line} {name}"
        for path in _modules()
        for line, name in _transaction_calls(path.read_text())
    ]
    assert found == [], "use app/unit_of_work.py: " + ", ".join(found)
    assert {name for _, name in _transaction_calls((APP / "unit_of_work.py").read_text())} == {
        "commit",
        "rollback",
        "begin",
        "begin_nested",
    }


def test_the_static_check_reads_code_not_text():
    sample = (
        "# db.session.commit() in a comment\n"
        'TEXT = "session.rollback()"\n'
        "def f(session):\n"
        "    session.begin_nested()\n"
    )
    assert _transaction_calls(sample) == [(4, "begin_nested")]


def test_no_other_module_listens_to_session_events():
    listening = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name in {"listen", "listens_for"} and "ession" in ast.unparse(node.args[0]):
                listening.append(f"{path.relative_to(APP.parent)}:{node.lineno}")
    assert listening == [], "register Session hooks in app/unit_of_work.py: " + str(listening)


# --- the hooks, in order -----------------------------------------------------------------


def _app_listeners(event: str) -> list:
    """The application's listeners to ``event`` of every Session (as a new one sees them)."""
    listeners = getattr(Session().dispatch, event)
    return [fn for fn in listeners if getattr(fn, "__module__", "").startswith("app.")]


def test_each_session_event_has_one_listener_running_its_list(app):
    unit_of_work.register()  # again: registering is idempotent
    for event, listener in unit_of_work.LISTENERS:
        assert _app_listeners(event) == [listener], event


def _origin(hook) -> str:
    return getattr(hook, "__wrapped__", hook).__module__


def test_the_lists_keep_the_stated_order():
    before_commit = [_origin(hook) for hook in unit_of_work.BEFORE_COMMIT]
    # the stored answers first, then the chain, under its lock held to the commit
    assert before_commit[0] == "app.consents.eligibility"
    audit = before_commit.index("app.audit.service")
    assert all(origin != "app.consents.eligibility" for origin in before_commit[audit:])
    after_commit = [_origin(hook) for hook in unit_of_work.AFTER_COMMIT]
    # the photo files' callbacks last of all
    assert after_commit[-1] == "app.unit_of_work"
    assert "app.audit.checkpoints" in after_commit


@pytest.fixture
def recorded_hooks(monkeypatch):
    """Each hook of each list, wrapped to note its call: [(list name, index)]."""
    calls: list[tuple[str, int]] = []

    def noting(name, index, hook):
        def noted(*args):
            calls.append((name, index))
            return hook(*args)

        return noted

    for name in ("BEFORE_FLUSH", "BEFORE_COMMIT", "AFTER_COMMIT", "AFTER_ROLLBACK"):
        hooks = getattr(unit_of_work, name)
        monkeypatch.setattr(
            unit_of_work, name, [noting(name, i, hook) for i, hook in enumerate(hooks)]
        )
    return calls


def test_a_commit_runs_every_hook_in_its_lists_order(app, as_field_worker, recorded_hooks):
    created = as_field_worker.post("/api/v1/households", json={"locality": "Lviv"})
    assert created.status_code == 201
    for name in ("BEFORE_FLUSH", "BEFORE_COMMIT", "AFTER_COMMIT"):
        indexes = [index for list_name, index in recorded_hooks if list_name == name]
        expected = list(range(len(getattr(unit_of_work, name))))
        assert indexes[: len(expected)] == expected, name
    commit = [name for name, _ in recorded_hooks if name != "BEFORE_FLUSH"]
    assert commit.index("AFTER_COMMIT") > commit.index("BEFORE_COMMIT")
    assert "AFTER_ROLLBACK" not in commit


def test_the_stored_answers_are_written_before_the_chain_is_appended(
    app, as_coordinator, make_household
):
    household = make_household()
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_):
        statements.append(statement.lstrip().upper())

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        added = as_coordinator.post(
            f"/api/v1/households/{household.id}/members",
            json={"full_name": "Mira Test", "sex": "female", "estimated_age": 9},
        )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert added.status_code == 201, added.get_json()
    answer = next(i for i, s in enumerate(statements) if "SET ELIGIBILITY_STATE" in s)
    chain = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO AUDIT_EVENTS"))
    assert answer < chain


def test_a_rolled_back_savepoint_keeps_what_the_unit_of_work_holds(app, coordinator):
    with app.app_context():
        unit_of_work.on_commit(lambda: None)
        with unit_of_work.savepoint() as point:
            point.give_back()
        assert db.session().info.get("on_commit"), "a savepoint's rollback forgot the work"
        unit_of_work.abandon()
        assert "on_commit" not in db.session().info


# --- commits of a request ----------------------------------------------------------------


@contextlib.contextmanager
def counting_commits():
    """Every commit of every session meanwhile: True for an own transaction's."""
    commits: list[bool] = []

    def note(session):
        commits.append(bool(session.info.get("own_transaction")))

    sa.event.listen(Session, "after_commit", note)
    try:
        yield commits
    finally:
        sa.event.remove(Session, "after_commit", note)


@BOTH_WAYS
def test_an_idempotent_create_commits_its_work_once(app, as_field_worker, isolation):
    with counting_commits() as commits:
        created = as_field_worker.post(
            "/api/v1/households", json={"locality": "Lviv"}, headers={"Idempotency-Key": "k-1"}
        )
    assert created.status_code == 201
    # the key's claim, in a transaction of its own; then the work with its answer, once
    assert commits == [True, False]
    with app.app_context():
        record = db.session.scalar(sa.select(IdempotencyKey))
        assert (record.state, record.status_code) == ("completed", 201)
    with counting_commits() as commits:
        replayed = as_field_worker.post(
            "/api/v1/households", json={"locality": "Lviv"}, headers={"Idempotency-Key": "k-1"}
        )
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert commits == [True, False]  # the look the replay shows is recorded with the request
    assert _households(app) == 1


@BOTH_WAYS
def test_a_plain_request_commits_once(app, as_field_worker, isolation):
    with counting_commits() as commits:
        created = as_field_worker.post("/api/v1/households", json={"locality": "Lviv"})
    assert created.status_code == 201
    assert commits == [False]


def _households(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Household))


def _last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def _events_after(app, mark: int) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id)
            )
        )


def _failing_after_writing(error: Exception):
    """create_household that writes its household, then fails."""
    real = household_service.create_household

    def create_household(actor, data):
        real(actor, data)
        db.session.flush()
        raise error

    return create_household


@BOTH_WAYS
def test_a_failed_idempotent_request_changes_nothing_and_frees_its_key(
    app, as_field_worker, monkeypatch, isolation
):
    mark = _last_event_id(app)
    monkeypatch.setattr(
        household_service, "create_household", _failing_after_writing(RuntimeError("crash"))
    )
    monkeypatch.setitem(app.config, "TESTING", False)  # a 500, as in production
    headers = {"Idempotency-Key": "k-retry"}
    failed = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert failed.status_code == 500
    assert _households(app) == 0
    assert _events_after(app, mark) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0
    monkeypatch.undo()
    retried = as_field_worker.post("/api/v1/households", json={"locality": "A"}, headers=headers)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert _households(app) == 1


@BOTH_WAYS
def test_a_refusal_is_audited_though_its_request_rolled_back(
    app, as_field_worker, monkeypatch, isolation
):
    mark = _last_event_id(app)
    monkeypatch.setattr(
        household_service, "create_household", _failing_after_writing(Unauthorized())
    )
    refused = as_field_worker.post(
        "/api/v1/households",
        json={"locality": "A"},
        headers={"Idempotency-Key": "k-refused", "X-Request-ID": "refused-req-1"},
    )
    assert refused.status_code == 401
    assert _households(app) == 0
    events = _events_after(app, mark)
    assert [(e.action, e.request_id, e.actor_id) for e in events] == [
        ("refused.unauthorized", "refused-req-1", as_field_worker.user.id)
    ]
    assert events[0].details["path"] == "/api/v1/households"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0
        assert verify_chain().ok


@BOTH_WAYS
def test_a_wrong_password_is_audited(app, client, field_worker, isolation):
    mark = _last_event_id(app)
    refused = client.post(
        "/api/v1/auth/tokens", json={"username": field_worker.username, "password": "wrong-one"}
    )
    assert refused.status_code == 401
    [event] = _events_after(app, mark)
    assert event.action.startswith("refused.")
    assert event.details["username"] == field_worker.username


@BOTH_WAYS
def test_an_own_transaction_commits_apart_from_the_abandoned_work(app, isolation):
    with app.app_context():
        kept = Household(id=uuid.uuid4(), ref="OWN-TX-0001", locality="Kept")
        with unit_of_work.own_transaction() as session:
            session.add(kept)
        dropped = Household(id=uuid.uuid4(), ref="OWN-TX-0002", locality="Dropped")
        db.session.add(dropped)
        db.session.flush()
        unit_of_work.abandon()
        assert db.session.get(Household, kept.id) is not None
        assert db.session.get(Household, dropped.id) is None
