"""Every domain's models in one place: for the mappers and for Alembic's autogenerate."""

from app.auth.models import ApiToken, Team, User
from app.consents.models import ConsentRecord
from app.db import Base
from app.households.models import Guardianship, Household, Person
from app.idempotency.models import IdempotencyKey
from app.timeline.models import TimelineEntry
from app.visits.models import Visit, VisitStance

__all__ = [
    "ApiToken",
    "Base",
    "ConsentRecord",
    "Guardianship",
    "Household",
    "IdempotencyKey",
    "Person",
    "Team",
    "TimelineEntry",
    "User",
    "Visit",
    "VisitStance",
]
