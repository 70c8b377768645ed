"""Households, their members, and the children's guardians."""

from __future__ import annotations

import uuid
from functools import partial

from flask import request

from app.auth.access import CASE_ROLES, current_actor, roles
from app.etags import OPTIONAL_IF_MATCH, require_if_match
from app.households import guardianships, lifecycle, persons, service
from app.households.models import Household
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
from app.idempotency.service import idempotent
from app.web.blueprint import Blueprint
from app.web.pagination import filters, page
from app.web.resource import Resource, created, if_match

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
    @blp.paged("listHouseholds", HouseholdSchema, args=HouseholdQueryArgsSchema)
    def get(self, args):
        """List the households in your scope, newest first"""
        return page(
            service.list_households_query(current_actor(), **filters(args)),
            MOST_OVERDUE_FIRST if args.get("visit_overdue") else NEWEST_FIRST,
            args,
            load=service.households_with_counts,
            seen=partial(service.saw_households, q=args.get("q")),
        )

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "createHousehold",
        HouseholdSchema,
        status=201,
        body=HouseholdSchema,
        example=HOUSEHOLD_EXAMPLE,
    )
    def post(self, data):
        """Register a household (a field worker's goes to their own team)"""
        return created(service.create_household(current_actor(), data), ".HouseholdById")


@blp.route("/households/<uuid:household_id>")
class HouseholdById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getHousehold", HouseholdSchema)
    def get(self, household_id: uuid.UUID):
        """One household"""
        return service.read_household(current_actor(), household_id)

    @roles(*CASE_ROLES)
    @blp.operation("updateHousehold", HouseholdSchema, body=HouseholdUpdateSchema)
    def patch(self, changes, household_id: uuid.UUID):
        """Change a household (coordinators also assign its team)"""
        return service.update_household(
            current_actor(), household_id, changes, precondition=if_match(HouseholdSchema)
        )


def _if_match_when_sent(household: Household) -> None:
    """The household's If-Match, checked under its lock when the client sends one."""
    if request.headers.get("If-Match"):
        require_if_match(service.load_counts(household), HouseholdSchema)


@blp.route("/households/<uuid:household_id>/status")
class HouseholdStatus(Resource):
    @roles(*CASE_ROLES)
    @idempotent
    @blp.doc(parameters=[OPTIONAL_IF_MATCH])
    @blp.operation(
        "changeHouseholdStatus",
        HouseholdSchema,
        body=HouseholdStatusChangeSchema,
        refusals={
            409: "The household cannot make this move from its status (`invalid_transition`): "
            "it is in that status already, the move is not in its lifecycle, or it is to "
            "`evacuated`, which only an evacuation's arrival reaches."
        },
    )
    def post(self, data, household_id: uuid.UUID):
        """Move a household along its lifecycle: ready, declined, closed (with a reason)..."""
        household = lifecycle.change_household_status(
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
    @blp.paged("listMembers", PersonSchema)
    def get(self, args, household_id: uuid.UUID):
        """The people of a household"""
        return persons.list_members(current_actor(), household_id, args)

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "addMember", PersonSchema, status=201, body=PersonCreateSchema, example=MEMBER_EXAMPLE
    )
    def post(self, data, household_id: uuid.UUID):
        """Add a person to a household (birth date or estimated age)"""
        return created(persons.add_member(current_actor(), household_id, data), ".PersonById")


@blp.route("/persons/<uuid:person_id>")
class PersonById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getPerson", PersonSchema)
    def get(self, person_id: uuid.UUID):
        """One person"""
        return persons.read_person(current_actor(), person_id)

    @roles(*CASE_ROLES)
    @blp.operation(
        "updatePerson",
        PersonSchema,
        body=PersonUpdateSchema,
        refusals={
            409: "The person has been evacuated: their status no longer changes here "
            "(`invalid_transition`)."
        },
    )
    def patch(self, changes, person_id: uuid.UUID):
        """Change a person's record"""
        return persons.update_person(
            current_actor(), person_id, changes, precondition=if_match(PersonSchema)
        )


@blp.route("/persons/<uuid:person_id>/guardians")
class Guardians(Resource):
    @roles(*CASE_ROLES)
    @blp.paged("listGuardians", GuardianshipSchema)
    def get(self, args, person_id: uuid.UUID):
        """A child's guardians"""
        return guardianships.list_guardians(current_actor(), person_id, args)

    @roles(*CASE_ROLES)
    @idempotent
    @blp.operation(
        "addGuardian",
        GuardianshipSchema,
        status=201,
        body=GuardianshipSchema,
        examples=GUARDIAN_EXAMPLES,
        refusals={409: "This guardian is linked to the child already (`duplicate_link`)."},
    )
    def post(self, data, person_id: uuid.UUID):
        """Link a guardian to a child: a person on record or someone outside"""
        link = guardianships.add_guardian(current_actor(), person_id, data)
        return created(link, ".GuardianshipById")


@blp.route("/guardianships/<uuid:guardianship_id>")
class GuardianshipById(Resource):
    @roles(*CASE_ROLES)
    @blp.operation("getGuardianship", GuardianshipSchema)
    def get(self, guardianship_id: uuid.UUID):
        """One guardianship link"""
        return guardianships.read_guardianship(current_actor(), guardianship_id)

    @roles(*CASE_ROLES)
    @blp.operation("updateGuardianship", GuardianshipSchema, body=GuardianshipUpdateSchema)
    def patch(self, changes, guardianship_id: uuid.UUID):
        """Change a guardianship: relationship, legal status, outside contact"""
        return guardianships.update_guardianship(
            current_actor(), guardianship_id, changes, precondition=if_match(GuardianshipSchema)
        )
