"""Visits to a household."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, current_actor, roles
from app.households.service import get_household
from app.http import (
    Blueprint,
    PageArgsSchema,
    Resource,
    page_of,
    paginate,
)
from app.idempotency.service import idempotent
from app.visits import service
from app.visits.models import Visit
from app.visits.schemas import VISIT_EXAMPLE, VisitSchema

blp = Blueprint("visits", __name__, url_prefix="/api/v1", description="Visits to households")


@blp.route("/households/<uuid:household_id>/visits")
class Visits(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listVisits")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(VisitSchema))
    def get(self, args, household_id: uuid.UUID):
        """A household's visits, latest first"""
        household = get_household(current_actor(), household_id)
        items, cursor = paginate(
            service.list_visits_query(household),
            [(Visit.visited_at, True), (Visit.id, True)],
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_visits,
            seen=service.saw_visits,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="logVisit")
    @blp.arguments(VisitSchema, example=VISIT_EXAMPLE)
    @blp.etag
    @blp.response(201, VisitSchema)
    def post(self, data, household_id: uuid.UUID):
        """Log a visit (the device's time; may be hours old when logged offline)"""
        actor = current_actor()
        household = get_household(actor, household_id, for_update=True)
        visit = service.log_visit(actor, household, data)
        return visit, 201, {"Location": f"/api/v1/households/{household_id}/visits"}
