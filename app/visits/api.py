"""Visits to a household."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, current_actor, roles
from app.idempotency.service import idempotent
from app.visits import service
from app.visits.schemas import VISIT_EXAMPLE, VisitSchema
from app.web.blueprint import Blueprint
from app.web.resource import Resource, created

blp = Blueprint("visits", __name__, url_prefix="/api/v1", description="Visits to households")


@blp.route("/households/<uuid:household_id>/visits")
class Visits(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listVisits", VisitSchema)
    def get(self, args, household_id: uuid.UUID):
        """A household's visits, latest first"""
        return service.list_visits(current_actor(), household_id, args)

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation("logVisit", VisitSchema, status=201, body=VisitSchema, example=VISIT_EXAMPLE)
    def post(self, data, household_id: uuid.UUID):
        """Log a visit (the device's time; may be hours old when logged offline)"""
        visit = service.log_visit(current_actor(), household_id, data)
        # a visit has no page of its own: the household's list of them
        return created(visit, ".Visits")
