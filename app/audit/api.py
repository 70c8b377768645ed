"""The audit trail, for administrators: search it, and verify its hash chain."""

from __future__ import annotations

from app.audit import service
from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventSchema, AuditQueryArgsSchema, VerificationSchema
from app.auth.access import ADMIN, roles
from app.http import Blueprint, Resource, page_of, paginate

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit trail")


@blp.route("/audit-events")
class AuditEvents(Resource):
    @roles(ADMIN)
    @blp.doc(operationId="listAuditEvents")
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(AuditEventSchema))
    def get(self, args):
        """Audit events, newest first; filter by entity, actor, action and time

        Case records' events name the fields set or changed, never their values.
        """
        filters = {k: v for k, v in args.items() if k not in ("limit", "cursor")}
        items, cursor = paginate(
            service.events_query(**filters),
            [(AuditEvent.id, True)],
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_for_admin,
        )
        return {"items": items, "next_cursor": cursor}


@blp.route("/audit-events/verify")
class VerifyAuditEvents(Resource):
    @roles(ADMIN)
    @blp.doc(operationId="verifyAuditTrail")
    @blp.etag
    @blp.response(200, VerificationSchema)
    def get(self):
        """Check the whole keyed hash chain, and against the service's own checkpoints"""
        return service.verify_trail()
