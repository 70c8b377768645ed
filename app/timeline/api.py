"""A household's history in time order."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, current_actor, roles
from app.households.service import get_household
from app.http import Blueprint, PageArgsSchema, Resource, page_of, paginate
from app.timeline.models import TimelineEntry
from app.timeline.schemas import TimelineEntrySchema
from app.timeline.service import saw_entries, timeline_query

blp = Blueprint("timeline", __name__, url_prefix="/api/v1", description="Household history")


@blp.route("/households/<uuid:household_id>/timeline")
class Timeline(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listHouseholdTimeline")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(TimelineEntrySchema))
    def get(self, args, household_id: uuid.UUID):
        """Visits, consents, reviews, revocations, guardianship and status changes, oldest first"""
        household = get_household(current_actor(), household_id)
        items, cursor = paginate(
            timeline_query(household.id),
            [
                (TimelineEntry.occurred_at, False),
                (TimelineEntry.recorded_at, False),
                (TimelineEntry.id, False),
            ],
            limit=args["limit"],
            cursor=args["cursor"],
            seen=saw_entries,
        )
        return {"items": items, "next_cursor": cursor}
