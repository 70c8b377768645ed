"""Reports for coordinators."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app.auth.access import COORDINATOR, roles
from app.etags import set_weak_etag
from app.http import Blueprint, Resource
from app.reports import service

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports")


class SummarySchema(ma.Schema):
    """The coordinators' figures, computed when asked."""

    generated_at = fields.AwareDateTime(
        required=True, metadata={"description": "When the figures were computed (UTC)"}
    )
    households_by_status = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Households per status; a status with none is left out"},
    )
    children_by_eligibility = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Children present, by eligible or their first blocking code"},
    )
    consents_pending_review = fields.Integer(
        required=True,
        metadata={"description": "Children's grants awaiting a coordinator (not revoked)"},
    )
    oldest_pending_review_hours = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "Hours the oldest of them has waited (one decimal); null: none"},
    )
    visits_overdue = fields.Integer(
        required=True,
        metadata={
            "description": "Open households (identified, engaging, ready) whose next visit is"
            " past due"
        },
    )
    free_housing_capacity = fields.Integer(
        required=True, metadata={"description": "Free places in available housing offers"}
    )


@blp.route("/reports/summary")
class Summary(Resource):
    @roles(COORDINATOR)
    @blp.doc(operationId="getSummaryReport")
    @blp.etag
    @blp.response(200, SummarySchema)
    def get(self):
        """Households by status, children by eligibility, the review queue, overdue visits,
        free housing"""
        summary = service.summary()
        # generated_at differs on every read: a weak ETag over the figures, so 304 works
        set_weak_etag(summary, SummarySchema, exclude=("generated_at",))
        return summary
