"""Evacuations: plan, add members under the rule, depart, arrive, cancel."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.evacuations import service
from app.evacuations.models import Evacuation
from app.evacuations.schemas import EvacuationQueryArgsSchema, EvacuationSchema, MemberSchema
from app.http import (
    IDEMPOTENCY_KEY_PARAMETER,
    Blueprint,
    EmptySchema,
    Resource,
    page_of,
    paginate,
    with_etag,
)
from app.idempotency.service import idempotent

blp = Blueprint("evacuations", __name__, url_prefix="/api/v1", description="Evacuations")
SOONEST_FIRST = [(Evacuation.planned_departure, False), (Evacuation.id, False)]


@blp.route("/evacuations")
class Evacuations(Resource):
    @roles(*CASE_ROLES)
    @blp.arguments(EvacuationQueryArgsSchema, location="query")
    @blp.response(200, page_of(EvacuationSchema))
    def get(self, args):
        """Evacuations (a field worker's team's only), soonest departure first"""
        items, cursor = paginate(
            service.evacuations_query(current_actor(), status=args.get("status")),
            SOONEST_FIRST,
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.load_evacuations,
            seen=service.saw_evacuations,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(COORDINATOR)
    @idempotent
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(EvacuationSchema)
    @blp.response(201, EvacuationSchema)
    def post(self, data):
        """Plan an evacuation: team, departure, on foot or by vehicle, meeting point"""
        evacuation = service.plan_evacuation(current_actor(), data)
        return with_etag(evacuation, 201, {"Location": f"/api/v1/evacuations/{evacuation.id}"})


@blp.route("/evacuations/<uuid:evacuation_id>")
class EvacuationById(Resource):
    @roles(*CASE_ROLES)
    @blp.response(200, EvacuationSchema)
    def get(self, evacuation_id: uuid.UUID):
        """One evacuation with its members"""
        return with_etag(service.read_evacuation(current_actor(), evacuation_id))


@blp.route("/evacuations/<uuid:evacuation_id>/members")
class EvacuationMembers(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.arguments(MemberSchema)
    @blp.response(201, EvacuationSchema)
    @blp.alt_response(409, description="Not eligible or unaccompanied: every reason listed")
    def post(self, data, evacuation_id: uuid.UUID):
        """Add a person; the eligibility rule is checked now, under lock (409 with reasons)"""
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        service.add_member(actor, evacuation, data)
        return with_etag(evacuation, 201)


@blp.route("/evacuations/<uuid:evacuation_id>/members/<uuid:person_id>")
class EvacuationMember(Resource):
    @roles(COORDINATOR)
    @blp.response(200, EvacuationSchema)
    def delete(self, evacuation_id: uuid.UUID, person_id: uuid.UUID):
        """Take a person out of a planned evacuation"""
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        service.remove_member(actor, evacuation, person_id)
        return with_etag(evacuation)


def _step(name: str, doc: str):
    def post(self, _data, evacuation_id: uuid.UUID):
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        return with_etag(getattr(service, name)(actor, evacuation))

    post.__doc__ = doc
    post.__name__ = "post"
    return roles(COORDINATOR)(
        idempotent(blp.arguments(EmptySchema)(blp.response(200, EvacuationSchema)(post)))
    )


@blp.route("/evacuations/<uuid:evacuation_id>/depart")
class DepartEvacuation(Resource):
    post = _step(
        "depart",
        "Depart: every member is checked again under lock; 409 names each blocked person",
    )


@blp.route("/evacuations/<uuid:evacuation_id>/arrive")
class ArriveEvacuation(Resource):
    post = _step("arrive", "Arrive: members evacuated, emptied households evacuated")


@blp.route("/evacuations/<uuid:evacuation_id>/cancel")
class CancelEvacuation(Resource):
    post = _step("cancel", "Cancel a planned evacuation")
