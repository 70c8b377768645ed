from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, enum_check, not_personal, runtime_rights, uuid_pk

KINDS = (
    "visit_logged",
    "consent_recorded",
    "consent_verified",
    "consent_rejected",
    "consent_revoked",
    "guardian_linked",
    "guardianship_changed",
    "status_changed",
    "member_added",
    "member_status_changed",
    "proposal_made",
    "proposal_shown",
    "proposal_accepted",
    "proposal_declined",
    "proposal_withdrawn",
    "added_to_evacuation",
    "removed_from_evacuation",
    "evacuation_departed",
    "evacuation_arrived",
    "evacuation_cancelled",
)


class TimelineEntry(Base):
    """One thing that happened to a household's case, for the team's next visit.

    Derived from the stream of changes (``app.timeline.service.record_changes``) in the
    same transaction as the change it describes. ``details`` holds codes and ids only (no
    names or free text), so anonymising a case leaves it intact.
    """

    __tablename__ = "timeline_entries"
    __table_args__ = (
        enum_check("kind", KINDS),
        sa.Index(
            "ix_timeline_entries_household_id_occurred_at_recorded_at_id",
            "household_id",
            "occurred_at",
            "recorded_at",
            "id",
        ),
        #: the service's rights: appended, never changed or removed (retention leaves it:
        #: it holds codes and ids only)
        runtime_rights("SELECT", "INSERT"),
    )

    id: Mapped[uuid_pk]
    household_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("households.id", ondelete="RESTRICT")
    )
    #: When it happened: a visit's device time, a consent's given time, a review's time.
    occurred_at: Mapped[dt.datetime] = mapped_column(info=not_personal())
    kind: Mapped[str] = mapped_column(sa.String(24), info=not_personal())
    entity_type: Mapped[str] = mapped_column(sa.String(24), info=not_personal())
    entity_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="RESTRICT")
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
    recorded_at: Mapped[created_at]
