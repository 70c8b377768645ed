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
from app.idempotency.service import idempotent
from app.web.blueprint import Blueprint
from app.web.fields import EmptySchema
from app.web.pagination import page
from app.web.resource import Resource, created

blp = Blueprint("evacuations", __name__, url_prefix="/api/v1", description="Evacuations")
SOONEST_FIRST = [(Evacuation.planned_departure, False), (Evacuation.id, False)]


@blp.route("/evacuations")
class Evacuations(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listEvacuations", EvacuationSchema, args=EvacuationQueryArgsSchema)
    def get(self, args):
        """Evacuations (a field worker's team's only), soonest departure first"""
        return page(
            service.evacuations_query(current_actor(), status=args.get("status")),
            SOONEST_FIRST,
            args,
            load=service.load_evacuations,
            seen=service.saw_evacuations,
        )

    @roles(COORDINATOR)
    @idempotent
    @blp.operation(
        "planEvacuation",
        EvacuationSchema,
        status=201,
        body=EvacuationSchema,
        example=EVACUATION_EXAMPLE,
    )
    def post(self, data):
        """Plan an evacuation: team, departure, on foot or by vehicle, meeting point"""
        return created(service.plan_evacuation(current_actor(), data), ".EvacuationById")


@blp.route("/evacuations/<uuid:evacuation_id>")
class EvacuationById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getEvacuation", EvacuationSchema)
    def get(self, evacuation_id: uuid.UUID):
        """One evacuation with its members"""
        return service.read_evacuation(current_actor(), evacuation_id)


@blp.route("/evacuations/<uuid:evacuation_id>/members")
class EvacuationMembers(Resource):
    @roles(COORDINATOR)
    @idempotent
    @blp.operation(
        "addEvacuationMember",
        EvacuationSchema,
        status=201,
        body=MemberSchema,
        refusals={
            409: "The person may not join: `reasons` lists every reason, each with its code "
            "and person (`not_eligible`: such as `consent_missing`, `refused`, `not_present`; "
            "`unaccompanied_child`: a child without an adult member of this evacuation or a "
            "staff escort). Or the evacuation is not planned any more (`invalid_transition`), "
            "or the person is a member already (`duplicate`) or in another evacuation "
            "(`already_in_evacuation`)."
        },
    )
    def post(self, data, evacuation_id: uuid.UUID):
        """Add a person; the eligibility rule is checked now, under lock (409 with reasons)"""
        evacuation = service.add_member(current_actor(), evacuation_id, data)
        # a member has no page of its own: the evacuation, which lists them
        return created(evacuation, ".EvacuationById")


@blp.route("/evacuations/<uuid:evacuation_id>/members/<uuid:person_id>")
class EvacuationMember(Resource):
    @roles(COORDINATOR)
    @blp.operation(
        "removeEvacuationMember",
        EvacuationSchema,
        refusals={
            409: "The evacuation is not planned any more (`invalid_transition`), or children "
            "in it go with this person (`unaccompanied_child`): `reasons` names each child."
        },
    )
    def delete(self, evacuation_id: uuid.UUID, person_id: uuid.UUID):
        """Take a person out of a planned evacuation"""
        return service.remove_member(current_actor(), evacuation_id, person_id)


def _step(name: str, operation_id: str, doc: str, refused: str):
    """The view of one step (``service.<name>``); ``refused``: when its 409 answers."""

    def post(self, _data, evacuation_id: uuid.UUID):
        return getattr(service, name)(current_actor(), evacuation_id)

    post.__doc__ = doc
    operation = blp.operation(
        operation_id, EvacuationSchema, body=EmptySchema, required=False, refusals={409: refused}
    )
    return roles(COORDINATOR)(idempotent(operation(post)))


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
