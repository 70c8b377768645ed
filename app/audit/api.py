"""The audit trail, for administrators: search it, and verify its hash chain."""

from __future__ import annotations

from app.audit import chain, reading
from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventSchema, AuditQueryArgsSchema, VerificationSchema
from app.auth.access import ADMIN, roles
from app.web.blueprint import Blueprint
from app.web.pagination import filters, page
from app.web.resource import Resource

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit trail")


@blp.route("/audit-events")
class AuditEvents(Resource):
    @roles(ADMIN)
    @blp.paged("listAuditEvents", AuditEventSchema, args=AuditQueryArgsSchema)
    def get(self, args):
        """Audit events, newest first; filter by entity, actor, action and time

        Case records' events name the fields set or changed, never their values.
        """
        stmt = reading.events_query(**filters(args))
        return page(stmt, [(AuditEvent.id, True)], args, load=reading.load_for_admin)


@blp.route("/audit-events/verify")
class VerifyAuditEvents(Resource):
    @roles(ADMIN)
    @blp.operation("verifyAuditTrail", VerificationSchema)
    def get(self):
        """Check the whole keyed hash chain, and against the service's own checkpoints"""
        return chain.verify_trail()
