"""A household's history in time order."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, current_actor, roles
from app.timeline.schemas import TimelineEntrySchema
from app.timeline.service import list_timeline
from app.web.blueprint import Blueprint
from app.web.resource import Resource

blp = Blueprint("timeline", __name__, url_prefix="/api/v1", description="Household history")


@blp.route("/households/<uuid:household_id>/timeline")
class Timeline(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listHouseholdTimeline", TimelineEntrySchema)
    def get(self, args, household_id: uuid.UUID):
        """Members, guardians, visits, consents, proposals, evacuations, statuses: oldest first"""
        return list_timeline(current_actor(), household_id, args)
