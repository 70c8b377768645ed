"""If-Match is judged under the row lock the change takes: a writer that held the row while
the request waited has changed the representation, and the request is refused with the
ETag of what is there now (412 from the precondition, not a lost update nor the version
column's bare 412).

PostgreSQL only: a third connection holds the row, as a concurrent writer would.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import wait_for_lock_waiters
from tests.http_helpers import etag_of

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.commits]


@pytest.fixture(autouse=True)
def _postgres(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no row locks to hold from a third connection")


class Patch(threading.Thread):
    """One PATCH from a thread of its own, through a test client (and connection) of its own."""

    def __init__(self, app, client, path: str, body: dict, etag: str) -> None:
        super().__init__(daemon=True)
        self.app, self.path, self.body = app, path, body
        self.headers = client._headers({"If-Match": etag})
        self.response = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.test_client() as client:
                self.response = client.patch(self.path, json=self.body, headers=self.headers)
        except BaseException as error:  # reported by finish(), in the test's own thread
            self.error = error

    def finish(self):
        self.join(timeout=30)
        assert not self.is_alive(), f"PATCH {self.path} never finished"
        if self.error is not None:
            raise self.error
        return self.response


def _patch_while_held(app, client, url: str, body: dict, lock_sql: str, change_sql: str, ids):
    """PATCH ``url`` with the ETag read now, while another connection holds the row
    (``lock_sql``) and changes what the answer shows (``change_sql``), then commits."""
    before = etag_of(client, url)
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(sa.text(lock_sql), ids)
        holder.execute(sa.text(change_sql), ids)
        request = Patch(app, client, url, body, before)
        request.start()
        wait_for_lock_waiters(1)
        holder.commit()
    return request.finish(), before


def test_a_user_patch_waiting_on_the_row_is_judged_after_it(app, as_admin, field_worker):
    url = f"/api/v1/users/{field_worker.id}"

    response, before = _patch_while_held(
        app,
        as_admin,
        url,
        {"full_name": "Late Edit"},
        "SELECT id FROM users WHERE id = :id FOR UPDATE",
        "UPDATE users SET full_name = 'First Edit', version = version + 1 WHERE id = :id",
        {"id": field_worker.id},
    )

    assert response.status_code == 412, response.get_json()
    current = as_admin.get(url)
    assert current.get_json()["full_name"] == "First Edit"
    assert response.headers["ETag"] == current.headers["ETag"] != before


def test_a_guardianship_patch_waiting_on_the_child_is_judged_after_it(
    app, as_field_worker, make_household, make_person, make_guardian
):
    household = make_household()
    child = make_person(household, age=6)
    link = make_guardian(child, make_person(household, age=35), "mother")
    url = f"/api/v1/guardianships/{link.id}"

    response, before = _patch_while_held(
        app,
        as_field_worker,
        url,
        {"relationship": "father"},
        "SELECT id FROM persons WHERE id = :child FOR UPDATE",
        "UPDATE guardianships SET relationship = 'grandparent', version = version + 1 "
        "WHERE id = :link",
        {"child": child.id, "link": link.id},
    )

    assert response.status_code == 412, response.get_json()
    current = as_field_worker.get(url)
    assert current.get_json()["relationship"] == "grandparent"
    assert response.headers["ETag"] == current.headers["ETag"] != before
