"""The per-team change feed: what changed in a team's cases, in commit order.

``append``, the last consumer of the stream (app/unit_of_work.py), writes one row for each
change that belongs to a team (``Change.team_id``: a household's, or an evacuation's).
Offline devices sync from it by asking for what came after the last ``seq`` they saw
(``changes_for_team``).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.changes import stream
from app.changes.models import ChangeFeedEntry
from app.changes.stream import Change
from app.extensions import db


@stream.consumer
def append(session: Session, changes: list[Change]) -> None:
    """Before the commit, after the audit chain: the team's rows, numbered under the
    chain's append lock (held to the commit), so their order is the commit order."""
    feed = [change for change in changes if change.team_id is not None]
    if not feed:
        return
    committed_at = audit.hold_append_lock(session)
    connection = session.connection()
    last = connection.scalar(sa.select(sa.func.max(ChangeFeedEntry.seq))) or 0
    connection.execute(
        sa.insert(ChangeFeedEntry),
        [
            {
                "seq": last + number,
                "team_id": change.team_id,
                "household_id": change.household_id,
                "person_id": change.person_id,
                "entity": change.entity,
                "entity_id": change.entity_id,
                "action": change.action,
                "fields": list(change.fields),
                "committed_at": committed_at,
            }
            for number, change in enumerate(feed, start=1)
        ],
    )


def changes_for_team(
    team_id: uuid.UUID, after_seq: int = 0, limit: int = 500
) -> list[ChangeFeedEntry]:
    """The team's changes committed after ``after_seq``, oldest first, at most ``limit``."""
    return list(
        db.session.scalars(
            sa.select(ChangeFeedEntry)
            .where(ChangeFeedEntry.team_id == team_id, ChangeFeedEntry.seq > after_seq)
            .order_by(ChangeFeedEntry.seq)
            .limit(limit)
        )
    )
