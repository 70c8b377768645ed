"""Reports for coordinators."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app.auth.access import COORDINATOR, roles
from app.etags import set_weak_etag
from app.reports import service
from app.schema_fields import about
from app.web.blueprint import Blueprint
from app.web.resource import Resource

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Reports")


def _counts(description: str) -> fields.Dict:
    """Figures by a code (a status, an eligibility code)."""
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True, **about(description)
    )


class SummarySchema(ma.Schema):
    """The coordinators' figures, computed when asked."""

    generated_at = fields.AwareDateTime(
        required=True, **about("When the figures were computed (UTC)")
    )
    households_by_status = _counts("Households per status; a status with none is left out")
    children_by_eligibility = _counts("Children present, by eligible or their first blocking code")
    consents_pending_review = fields.Integer(
        required=True, **about("Children's grants awaiting a coordinator (not revoked)")
    )
    oldest_pending_review_hours = fields.Float(
        allow_none=True,
        required=True,
        **about("Hours the oldest of them has waited (one decimal); null: none"),
    )
    visits_overdue = fields.Integer(
        required=True,
        **about("Open households (identified, engaging, ready) whose next visit is past due"),
    )
    free_housing_capacity = fields.Integer(
        required=True, **about("Free places in available housing offers")
    )


@blp.route("/reports/summary")
class Summary(Resource):
    @roles(COORDINATOR)
    @blp.operation("getSummaryReport", SummarySchema)
    def get(self):
        """Households by status, children by eligibility, the review queue, overdue visits,
        free housing"""
        summary = service.summary()
        # generated_at differs on every read: a weak ETag over the figures, so 304 works
        set_weak_etag(summary, SummarySchema, exclude=("generated_at",))
        return summary
