"""Every domain's models in one place: for the mappers and for Alembic's autogenerate."""

from app.auth.models import ApiToken, Team, User
from app.db import Base
from app.households.models import Guardianship, Household, Person
from app.idempotency.models import IdempotencyKey

__all__ = [
    "ApiToken",
    "Base",
    "Guardianship",
    "Household",
    "IdempotencyKey",
    "Person",
    "Team",
    "User",
]
