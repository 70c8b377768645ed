"""Two transactions commit at once: the feed's order is their commit order (PostgreSQL).

A device syncs by asking for the changes after the last ``seq`` it saw. That is safe only
if no change ever becomes visible after one with a greater ``seq``: the reader would have
moved past it for good. The feed numbers its rows under the audit chain's append lock,
held to the end of the transaction, so the next transaction cannot number its own until
this one has committed.

Each writer runs on a connection of its own (its own thread and session); a reader on a
third connection polls "seq > N" throughout, as a device would. In the forced rounds the
first writer stops after numbering its rows, before its commit, until the second is seen
waiting for the lock; in the free rounds the two are released together.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from app.changes.models import ChangeFeedEntry
from app.extensions import db
from app.households.models import Household
from tests.conftest import wait_for_lock_waiters

ROUNDS = 4
#: Each write moves a household's priority on, so every write is a change.
NEXT_PRIORITY = {"low": "normal", "normal": "high", "high": "urgent", "urgent": "low"}

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only, pytest.mark.commits]


@pytest.fixture(autouse=True)
def postgres_only(is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite has a single writer: two transactions never commit at once")


class Reader(threading.Thread):
    """Polls ``seq > N`` on a connection of its own, each poll a fresh snapshot."""

    def __init__(self, after: int) -> None:
        super().__init__(daemon=True)
        self.after = after
        self.seen: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def poll(self, conn: sa.Connection) -> None:
        rows = conn.scalars(
            sa.select(ChangeFeedEntry.seq)
            .where(ChangeFeedEntry.seq > self.after)
            .order_by(ChangeFeedEntry.seq)
        ).all()
        if rows:
            self.seen.extend(rows)
            self.after = rows[-1]

    def run(self) -> None:
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                while not self.stop.is_set():
                    self.poll(conn)
                    time.sleep(0.001)
                self.poll(conn)  # once more, after both committed
        except BaseException as error:  # reported by the main thread
            self.error = error


class Writer(threading.Thread):
    """One unit of work on a connection of its own: a household's priority moves on.

    With ``hold``, it stops at its commit once its feed rows are numbered (a listener of
    its own session runs after the unit of work's hooks), until ``hold`` is set."""

    def __init__(self, app, household_id, *, start=None, hold=None) -> None:
        super().__init__(daemon=True)
        self.app, self.household_id = app, household_id
        self.start_together = start
        self.hold = hold
        self.numbered = threading.Event()
        self.seq_before_commit: int | None = None
        self.error: BaseException | None = None

    def pause(self, session) -> None:
        self.seq_before_commit = session.scalar(sa.select(sa.func.max(ChangeFeedEntry.seq)))
        self.numbered.set()
        assert self.hold.wait(timeout=20), "never released"

    def run(self) -> None:
        try:
            with self.app.app_context():
                session = db.session()
                if self.hold is not None:
                    sa.event.listen(session, "before_commit", self.pause)
                if self.start_together is not None:
                    self.start_together.wait(timeout=10)
                household = session.get(Household, self.household_id)
                household.priority = NEXT_PRIORITY[household.priority]
                session.commit()
                db.session.remove()
        except BaseException as error:  # reported by the main thread
            self.error = error


def last_seq(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(ChangeFeedEntry.seq), 0)))


def feed_after(app, seq: int) -> list[ChangeFeedEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(ChangeFeedEntry)
                .where(ChangeFeedEntry.seq > seq)
                .order_by(ChangeFeedEntry.seq)
            )
        )


def finish(reader: Reader, *writers: Writer) -> None:
    for writer in writers:
        writer.join(timeout=30)
        assert not writer.is_alive(), "a writer never finished"
        assert writer.error is None, writer.error
    reader.stop.set()
    reader.join(timeout=30)
    assert reader.error is None, reader.error


def test_seq_order_is_commit_order_and_a_reader_skips_nothing(
    app, make_household, team, other_team
):
    north = make_household(team=team).id
    south = make_household(team=other_team).id
    for round_ in range(ROUNDS):
        first, second = (north, south) if round_ % 2 == 0 else (south, north)
        start = last_seq(app)
        reader = Reader(start)
        reader.start()

        # forced: the first has numbered its row and holds the lock; the second must wait
        hold = threading.Event()
        holder = Writer(app, first, hold=hold)
        holder.start()
        assert holder.numbered.wait(timeout=20), "the first writer never reached its commit"
        waiter = Writer(app, second)
        waiter.start()
        wait_for_lock_waiters(1)  # the second is queued behind the append lock
        assert reader.seen == []  # nothing is visible before a commit
        hold.set()
        finish(reader, holder, waiter)

        rows = feed_after(app, start)
        by_household = {row.household_id: row.seq for row in rows}
        # the one that committed first has the smaller seq, and numbered it before waiting
        assert by_household[first] < by_household[second]
        assert holder.seq_before_commit == by_household[first]
        assert [row.seq for row in rows] == list(range(start + 1, start + 1 + len(rows)))
        committed = [row.committed_at for row in rows]
        assert committed == sorted(committed)
        # the reader of "seq > N" saw every committed row, in order
        assert reader.seen == [row.seq for row in rows]

        # free: both released at once, whichever wins
        start = last_seq(app)
        reader = Reader(start)
        reader.start()
        barrier = threading.Barrier(2)
        writers = [Writer(app, household, start=barrier) for household in (first, second)]
        for writer in writers:
            writer.start()
        finish(reader, *writers)
        rows = feed_after(app, start)
        assert len(rows) == 2
        assert [row.seq for row in rows] == [start + 1, start + 2]
        assert reader.seen == [start + 1, start + 2]
