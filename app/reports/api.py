"""Reports for coordinators."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app.auth.access import COORDINATOR, roles
from app.http import Blueprint, Resource
from app.reports import service

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports")


class SummarySchema(ma.Schema):
    generated_at = fields.AwareDateTime(required=True)
    households_by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    children_by_eligibility = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Children present, by eligible or their first blocking code"},
    )
    consents_pending_review = fields.Integer(required=True)
    oldest_pending_review_hours = fields.Float(allow_none=True, required=True)
    visits_overdue = fields.Integer(required=True)
    free_housing_capacity = fields.Integer(required=True)


@blp.route("/reports/summary")
class Summary(Resource):
    @roles(COORDINATOR)
    @blp.response(200, SummarySchema)
    def get(self):
        """Households by status, children by eligibility, the review queue, overdue visits,
        free housing"""
        return service.summary()
