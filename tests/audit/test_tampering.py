"""Someone with database access edits, deletes or reorders events: the chain says where.

The tests step around the append-only triggers as a database superuser could, tamper,
check that the API and the CLI name the first broken event, and put everything back.
"""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import db

pytestmark = pytest.mark.commits


@contextlib.contextmanager
def as_superuser():
    """A transaction in which the audit table's triggers do not fire."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
            return
        triggers = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'audit_events'"
        ).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        yield conn
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


@pytest.fixture
def three_events(app, as_field_worker, make_household, team):
    """Three fresh events at the end of the chain: their ids."""
    household = make_household(team=team)
    for priority in ("high", "urgent"):
        version = as_field_worker.get(f"/api/v1/households/{household.id}").headers["ETag"]
        as_field_worker.patch(
            f"/api/v1/households/{household.id}",
            json={"priority": priority},
            headers={"If-Match": version},
        )
    with app.app_context():
        ids = db.session.scalars(
            sa.select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(3)
        ).all()
    return sorted(ids)


def _verdict(as_admin):
    return as_admin.get("/api/v1/audit-events/verify").get_json()


def _cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _row(conn, event_id):
    return conn.execute(sa.select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()


def test_an_edited_event_is_found(app, as_admin, three_events):
    target = three_events[1]
    with as_superuser() as conn:
        original = _row(conn, target).details
        conn.execute(
            sa.update(AuditEvent.__table__)
            .where(AuditEvent.id == target)
            .values(details={**original, "changed": {}})
        )
    try:
        verdict = _verdict(as_admin)
        assert verdict["ok"] is False
        assert verdict["first_broken_id"] == target
        result = _cli(app)
        assert result.exit_code == 1
        assert f"event {target}" in result.output
    finally:
        with as_superuser() as conn:
            conn.execute(
                sa.update(AuditEvent.__table__)
                .where(AuditEvent.id == target)
                .values(details=original)
            )
    assert _verdict(as_admin)["ok"] is True
    assert _cli(app).exit_code == 0


def test_a_deleted_event_is_found(app, as_admin, three_events):
    target = three_events[1]
    with as_superuser() as conn:
        saved = dict(_row(conn, target)._mapping)
        conn.execute(sa.delete(AuditEvent.__table__).where(AuditEvent.id == target))
    try:
        verdict = _verdict(as_admin)
        assert verdict["ok"] is False
        assert verdict["first_broken_id"] == three_events[2]
        assert _cli(app).exit_code == 1
    finally:
        with as_superuser() as conn:
            conn.execute(sa.insert(AuditEvent.__table__).values(**saved))
    assert _verdict(as_admin)["ok"] is True


def test_reordered_events_are_found(app, as_admin, three_events):
    first, second = three_events[0], three_events[1]
    parking = 10**12 + first  # ids below 1 are refused on PostgreSQL (a CHECK)
    table = AuditEvent.__table__

    def swap(conn):
        conn.execute(sa.update(table).where(table.c.id == first).values(id=parking))
        conn.execute(sa.update(table).where(table.c.id == second).values(id=first))
        conn.execute(sa.update(table).where(table.c.id == parking).values(id=second))

    with as_superuser() as conn:
        swap(conn)
    try:
        verdict = _verdict(as_admin)
        assert verdict["ok"] is False
        assert verdict["first_broken_id"] == first
        assert _cli(app).exit_code == 1
    finally:
        with as_superuser() as conn:
            swap(conn)
    assert _verdict(as_admin)["ok"] is True
