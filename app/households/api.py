"""Households, their members, and the children's guardians."""

from __future__ import annotations

import uuid
from functools import partial

from flask import request

from app.auth.access import CASE_ROLES, current_actor, roles
from app.etags import OPTIONAL_IF_MATCH, require_if_match
from app.households import service
from app.households.models import Guardianship, Household, Person
from app.households.schemas import (
    GUARDIAN_EXAMPLES,
    HOUSEHOLD_EXAMPLE,
    MEMBER_EXAMPLE,
    GuardianshipSchema,
    GuardianshipUpdateSchema,
    HouseholdQueryArgsSchema,
    HouseholdSchema,
    HouseholdStatusChangeSchema,
    HouseholdUpdateSchema,
    PersonCreateSchema,
    PersonSchema,
    PersonUpdateSchema,
)
from app.http import (
    Blueprint,
    PageArgsSchema,
    Resource,
    page_of,
    paginate,
)
from app.idempotency.service import idempotent

blp = Blueprint(
    "households", __name__, url_prefix="/api/v1", description="Households, people, guardians"
)
NEWEST_FIRST = [(Household.created_at, True), (Household.id, True)]
MOST_OVERDUE_FIRST = [
    (Household.priority_rank, True),
    (Household.next_visit_due, False),
    (Household.id, False),
]


@blp.route("/households")
class Households(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listHouseholds")
    @blp.arguments(HouseholdQueryArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(HouseholdSchema))
    def get(self, args):
        """List the households in your scope, newest first"""
        stmt = service.list_households_query(
            current_actor(),
            status=args.get("status"),
            priority=args.get("priority"),
            team_id=args.get("team_id"),
            q=args.get("q"),
            visit_overdue=args.get("visit_overdue"),
        )
        items, cursor = paginate(
            stmt,
            MOST_OVERDUE_FIRST if args.get("visit_overdue") else NEWEST_FIRST,
            limit=args["limit"],
            cursor=args["cursor"],
            load=service.households_with_counts,
            seen=partial(service.saw_households, q=args.get("q")),
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="createHousehold")
    @blp.arguments(HouseholdSchema, example=HOUSEHOLD_EXAMPLE)
    @blp.etag
    @blp.response(201, HouseholdSchema)
    def post(self, data):
        """Register a household (a field worker's goes to their own team)"""
        household = service.create_household(current_actor(), data)
        return household, 201, {"Location": f"/api/v1/households/{household.id}"}


@blp.route("/households/<uuid:household_id>")
class HouseholdById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getHousehold")
    @blp.etag
    @blp.response(200, HouseholdSchema)
    def get(self, household_id: uuid.UUID):
        """One household"""
        return service.read_household(current_actor(), household_id)

    @roles(*CASE_ROLES)
    @blp.doc(operationId="updateHousehold")
    @blp.arguments(HouseholdUpdateSchema)
    @blp.etag
    @blp.response(200, HouseholdSchema)
    def patch(self, changes, household_id: uuid.UUID):
        """Change a household (coordinators also assign its team)"""
        actor = current_actor()
        household = service.get_household(actor, household_id, for_update=True)
        require_if_match(service.load_counts(household), HouseholdSchema)
        return service.update_household(actor, household, changes)


def _if_match_when_sent(household: Household) -> None:
    """The household's If-Match, checked under its lock when the client sends one."""
    if request.headers.get("If-Match"):
        require_if_match(service.load_counts(household), HouseholdSchema)


@blp.route("/households/<uuid:household_id>/status")
class HouseholdStatus(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="changeHouseholdStatus")
    @idempotent
    @blp.doc(parameters=[OPTIONAL_IF_MATCH])
    @blp.arguments(HouseholdStatusChangeSchema)
    @blp.etag
    @blp.response(200, HouseholdSchema)
    @blp.alt_response(
        409,
        description="The household cannot make this move from its status "
        "(`invalid_transition`): it is in that status already, the move is not in its "
        "lifecycle, or it is to `evacuated`, which only an evacuation's arrival reaches.",
    )
    def post(self, data, household_id: uuid.UUID):
        """Move a household along its lifecycle: ready, declined, closed (with a reason)..."""
        household = service.change_household_status(
            current_actor(),
            household_id,
            data["status"],
            data.get("reason"),
            note=data.get("note"),
            precondition=_if_match_when_sent,
        )
        return household


@blp.route("/households/<uuid:household_id>/members")
class Members(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listMembers")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(PersonSchema))
    def get(self, args, household_id: uuid.UUID):
        """The people of a household"""
        actor = current_actor()
        household = service.get_household(actor, household_id)
        items, cursor = paginate(
            service.list_members_query(actor, household),
            [(Person.created_at, False), (Person.id, False)],
            limit=args["limit"],
            cursor=args["cursor"],
            seen=service.saw_members,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="addMember")
    @blp.arguments(PersonCreateSchema, example=MEMBER_EXAMPLE)
    @blp.etag
    @blp.response(201, PersonSchema)
    def post(self, data, household_id: uuid.UUID):
        """Add a person to a household (birth date or estimated age)"""
        actor = current_actor()
        household = service.get_household(actor, household_id, for_update=True)
        person = service.add_member(actor, household, data)
        return person, 201, {"Location": f"/api/v1/persons/{person.id}"}


@blp.route("/persons/<uuid:person_id>")
class PersonById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getPerson")
    @blp.etag
    @blp.response(200, PersonSchema)
    def get(self, person_id: uuid.UUID):
        """One person"""
        return service.read_person(current_actor(), person_id)

    @roles(*CASE_ROLES)
    @blp.doc(operationId="updatePerson")
    @blp.arguments(PersonUpdateSchema)
    @blp.etag
    @blp.response(200, PersonSchema)
    @blp.alt_response(
        409,
        description="The person has been evacuated: their status no longer changes here "
        "(`invalid_transition`).",
    )
    def patch(self, changes, person_id: uuid.UUID):
        """Change a person's record"""
        actor = current_actor()
        person = service.get_person(actor, person_id)
        return service.update_person(
            actor, person, changes, precondition=partial(require_if_match, schema=PersonSchema)
        )


@blp.route("/persons/<uuid:person_id>/guardians")
class Guardians(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="listGuardians")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.etag
    @blp.response(200, page_of(GuardianshipSchema))
    def get(self, args, person_id: uuid.UUID):
        """A child's guardians"""
        actor = current_actor()
        child = service.get_person(actor, person_id)
        items, cursor = paginate(
            service.list_guardians_query(actor, child),
            [(Guardianship.created_at, False), (Guardianship.id, False)],
            limit=args["limit"],
            cursor=args["cursor"],
            seen=service.saw_guardians,
        )
        return {"items": items, "next_cursor": cursor}

    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(operationId="addGuardian")
    @blp.arguments(GuardianshipSchema, examples=GUARDIAN_EXAMPLES)
    @blp.etag
    @blp.response(201, GuardianshipSchema)
    @blp.alt_response(
        409,
        description="This guardian is linked to the child already (`duplicate_link`).",
    )
    def post(self, data, person_id: uuid.UUID):
        """Link a guardian to a child: a person on record or someone outside"""
        actor = current_actor()
        child = service.get_person(actor, person_id)
        link = service.add_guardian(actor, child, data)
        return link, 201, {"Location": f"/api/v1/guardianships/{link.id}"}


@blp.route("/guardianships/<uuid:guardianship_id>")
class GuardianshipById(Resource):
    @roles(*CASE_ROLES)
    @blp.doc(operationId="getGuardianship")
    @blp.etag
    @blp.response(200, GuardianshipSchema)
    def get(self, guardianship_id: uuid.UUID):
        """One guardianship link"""
        return service.read_guardianship(current_actor(), guardianship_id)

    @roles(*CASE_ROLES)
    @blp.doc(operationId="updateGuardianship")
    @blp.arguments(GuardianshipUpdateSchema)
    @blp.etag
    @blp.response(200, GuardianshipSchema)
    def patch(self, changes, guardianship_id: uuid.UUID):
        """Change a guardianship: relationship, legal status, outside contact"""
        actor = current_actor()
        link = service.get_guardianship(actor, guardianship_id)
        return service.update_guardianship(
            actor, link, changes, precondition=partial(require_if_match, schema=GuardianshipSchema)
        )
