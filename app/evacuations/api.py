"""Evacuations: plan, add members under the rule, depart, arrive, cancel."""

from __future__ import annotations

import uuid

from app.auth.access import CASE_ROLES, COORDINATOR, current_actor, roles
from app.evacuations import service
from app.evacuations.models import Evacuation
from app.evacuations.schemas import (
    EVACUATION_EXAMPLE,
    EvacuationQueryArgsSchema,
    EvacuationSchema,
    MemberSchema,
)
from app.http import (
    Blueprint,
    EmptySchema,
    Resource,
    page_of,
    paginate,
)
from app.idempotency.service import idempotent

blp = Blueprint("evacuations", __name__, url_prefix="/api/v1", description="Evacuations")
SOONEST_FIRST = [(Evacuation.planned_departure, False), (Evacuation.id, False)]


@blp.route("/evacuations")
class Evacuations(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listEvacuations")
    @blp.arguments(EvacuationQueryArgsSchema, location="query")
    @blp.etag
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
    @blp.doc(operationId="planEvacuation")
    @blp.arguments(EvacuationSchema, example=EVACUATION_EXAMPLE)
    @blp.etag
    @blp.response(201, EvacuationSchema)
    def post(self, data):
        """Plan an evacuation: team, departure, on foot or by vehicle, meeting point"""
        evacuation = service.plan_evacuation(current_actor(), data)
        return evacuation, 201, {"Location": f"/api/v1/evacuations/{evacuation.id}"}


@blp.route("/evacuations/<uuid:evacuation_id>")
class EvacuationById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getEvacuation")
    @blp.etag
    @blp.response(200, EvacuationSchema)
    def get(self, evacuation_id: uuid.UUID):
        """One evacuation with its members"""
        return service.read_evacuation(current_actor(), evacuation_id)


@blp.route("/evacuations/<uuid:evacuation_id>/members")
class EvacuationMembers(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.doc(operationId="addEvacuationMember")
    @blp.arguments(MemberSchema)
    @blp.etag
    @blp.response(201, EvacuationSchema)
    @blp.alt_response(
        409,
        description="The person may not join: `reasons` lists every reason, each with its code "
        "and person (`not_eligible`: such as `consent_missing`, `refused`, `not_present`; "
        "`unaccompanied_child`: a child without an adult member of this evacuation or a staff "
        "escort). Or the evacuation is not planned any more (`invalid_transition`), or the "
        "person is a member already (`duplicate`) or in another evacuation "
        "(`already_in_evacuation`).",
    )
    def post(self, data, evacuation_id: uuid.UUID):
        """Add a person; the eligibility rule is checked now, under lock (409 with reasons)"""
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        service.add_member(actor, evacuation, data)
        return evacuation, 201, {"Location": f"/api/v1/evacuations/{evacuation_id}"}


@blp.route("/evacuations/<uuid:evacuation_id>/members/<uuid:person_id>")
class EvacuationMember(Resource):
    @roles(COORDINATOR)
    @blp.doc(operationId="removeEvacuationMember")
    @blp.etag
    @blp.response(200, EvacuationSchema)
    @blp.alt_response(
        409,
        description="The evacuation is not planned any more (`invalid_transition`), or children "
        "in it go with this person (`unaccompanied_child`): `reasons` names each child.",
    )
    def delete(self, evacuation_id: uuid.UUID, person_id: uuid.UUID):
        """Take a person out of a planned evacuation"""
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        service.remove_member(actor, evacuation, person_id)
        return evacuation


def _step(name: str, operation_id: str, doc: str, refused: str):
    """The view of one step (``service.<name>``); ``refused``: when its 409 answers."""

    def post(self, _data, evacuation_id: uuid.UUID):
        actor = current_actor()
        evacuation = service.get_evacuation(actor, evacuation_id, for_update=True)
        return getattr(service, name)(actor, evacuation)

    post.__doc__ = doc
    post.__name__ = "post"
    decorators = [
        roles(COORDINATOR),
        blp.doc(operationId=operation_id),
        idempotent,
        blp.arguments(EmptySchema, required=False),
        blp.etag,
        blp.response(200, EvacuationSchema),
        blp.alt_response(409, description=refused),
    ]
    for decorate in reversed(decorators):
        post = decorate(post)
    return post


@blp.route("/evacuations/<uuid:evacuation_id>/depart")
class DepartEvacuation(Resource):
    post = _step(
        "depart",
        "departEvacuation",
        "Depart: every member is checked again under lock; 409 names each blocked person",
        "The evacuation is not planned, or has nobody in it (`invalid_transition`); or some "
        "members may not leave now (`departure_blocked`): `reasons` names every blocked "
        "person, each with the rule's code (such as `consent_missing`, `unaccompanied_child`). "
        "Nothing changed.",
    )


@blp.route("/evacuations/<uuid:evacuation_id>/arrive")
class ArriveEvacuation(Resource):
    post = _step(
        "arrive",
        "arriveEvacuation",
        "Arrive: members evacuated, emptied households evacuated",
        "The evacuation has not departed (`invalid_transition`).",
    )


@blp.route("/evacuations/<uuid:evacuation_id>/cancel")
class CancelEvacuation(Resource):
    post = _step(
        "cancel",
        "cancelEvacuation",
        "Cancel a planned evacuation",
        "The evacuation is not planned any more (`invalid_transition`).",
    )
