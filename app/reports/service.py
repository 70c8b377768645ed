"""The coordinators' summary: a handful of aggregate queries, never a scan of rows."""

from __future__ import annotations

import sqlalchemy as sa

from app.consents.models import ConsentRecord
from app.db import utcnow
from app.extensions import db
from app.households.models import ADULT_AGE, Household, Person, today, years_before
from app.housing.models import HousingOffer

#: Households still being worked on (the others are done, one way or another).
OPEN_STATUSES = ("identified", "engaging", "ready")


def summary() -> dict:
    now = utcnow()
    day = today()
    by_status = dict(
        db.session.execute(
            sa.select(Household.status, sa.func.count()).group_by(Household.status)
        ).all()
    )
    # a stored "eligible" whose consent has run out since is counted as expired
    state = sa.case(
        (
            sa.and_(
                Person.eligibility_state == "eligible",
                Person.eligibility_until.is_not(None),
                Person.eligibility_until < day,
            ),
            "consent_expired",
        ),
        else_=sa.func.coalesce(Person.eligibility_state, "consent_missing"),
    )
    children = dict(
        db.session.execute(
            sa.select(state, sa.func.count())
            .where(
                Person.status == "present",
                Person.date_of_birth > years_before(day, ADULT_AGE),
            )
            .group_by(state)
        ).all()
    )
    pending, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(ConsentRecord.recorded_at)).where(
            ConsentRecord.review_status == "pending_review",
            ConsentRecord.revoked_at.is_(None),
        )
    ).one()
    overdue = db.session.scalar(
        sa.select(sa.func.count()).where(
            Household.next_visit_due < day, Household.status.in_(OPEN_STATUSES)
        )
    )
    free = db.session.scalar(
        sa.select(
            sa.func.coalesce(sa.func.sum(HousingOffer.capacity - HousingOffer.taken), 0)
        ).where(HousingOffer.status == "available")
    )
    return {
        "generated_at": now,
        "households_by_status": by_status,
        "children_by_eligibility": children,
        "consents_pending_review": pending,
        "oldest_pending_review_hours": (
            round((now - oldest).total_seconds() / 3600, 1) if oldest else None
        ),
        "visits_overdue": overdue,
        "free_housing_capacity": int(free),
    }
