"""Every domain's models in one place: for the mappers and for Alembic's autogenerate."""

from app.audit.models import AuditEvent
from app.auth.models import ApiToken, Team, User
from app.changes.models import ChangeFeedEntry
from app.consents.models import ConsentRecord
from app.db import Base
from app.evacuations.models import Evacuation, EvacuationMember
from app.households.models import Guardianship, Household, Person
from app.housing.models import HousingOffer, HousingPhoto, HousingProposal, PhotoBlob
from app.idempotency.models import IdempotencyKey
from app.timeline.models import TimelineEntry
from app.visits.models import Visit, VisitStance

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "ChangeFeedEntry",
    "ConsentRecord",
    "Evacuation",
    "EvacuationMember",
    "Guardianship",
    "Household",
    "HousingOffer",
    "HousingPhoto",
    "HousingProposal",
    "IdempotencyKey",
    "Person",
    "PhotoBlob",
    "Team",
    "TimelineEntry",
    "User",
    "Visit",
    "VisitStance",
]
