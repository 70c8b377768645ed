"""Every operation that changes state checks its actor itself, whoever calls it.

The API's ``@roles`` turns callers away early (tests/test_authorization_matrix.py); here each
service function is called directly, as a command or a future endpoint would, by each of:
a field worker of the household's team, a field worker of another team, a coordinator, an
administrator, and the server's operator at the command line. DESIGN §2: field workers
change only their team's households and what is under them; coordinators also manage
housing offers, review consents and run evacuations; administrators (and the operator)
manage users, teams and tokens and touch no case data.

Each call runs in a transaction of its own that is rolled back, so the calls never see
each other's changes. An allowed call may still fail later for a reason of the domain (a
conflict); only "forbidden" (403) and "hidden" (404, or 422 "No such ..." for a reference
in the body) count as refusals. The last test fails when a service function exists that
this table does not classify.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth import service as auth
from app.auth import tokens
from app.auth.models import COORDINATOR, ApiToken, User
from app.auth.permissions import OPERATOR
from app.consents import service as consents
from app.errors import DomainError, Forbidden, Invalid, NotFound
from app.evacuations import service as evacuations
from app.extensions import PROJECT_ROOT, db
from app.households import guardianships, lifecycle, persons
from app.households import service as households
from app.households.models import Household, Person
from app.housing import matching, photos, proposals
from app.housing import service as housing
from app.housing.models import HousingOffer
from app.retention import service as retention
from app.timeline import service as timeline
from app.visits import service as visits
from tests.conftest import PASSWORD, png_bytes

ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"
ROLES = ("own_field_worker", "other_field_worker", "coordinator", "admin", "operator")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class World:
    """The people and the records the calls act on, made (and committed) when first needed."""

    def __init__(self, app, request) -> None:
        self.app = app
        self.request = request

    def fixture(self, name: str):
        return self.request.getfixturevalue(name)

    @cached_property
    def household(self):
        return self.fixture("make_household")(team=self.fixture("team"))

    @cached_property
    def adult(self):
        """An adult of the household who agreed to leave (recorded by the team)."""
        return self.fixture("make_person")(self.household, age=35)

    @cached_property
    def granted(self):
        """The adult's agreement, recorded by the team."""
        return self.fixture("make_consent")(self.fixture("field_worker"), self.adult, "self")

    @cached_property
    def second_adult(self):
        """Another adult who agreed to leave, in no evacuation yet."""
        person = self.fixture("make_person")(self.household, age=50)
        self.fixture("make_consent")(self.fixture("field_worker"), person, "self")
        return person

    @cached_property
    def child(self):
        return self.fixture("make_person")(self.household, age=8)

    @cached_property
    def outside_parent(self):
        """The child's father, abroad: a guardian by name and contact only."""
        return self.fixture("make_guardian")(self.child, None, "father", external_name="Abroad")

    @cached_property
    def grandmother(self):
        """The child's grandmother, on record and linked as a guardian (not a parent)."""
        person = self.fixture("make_person")(self.household, age=70)
        self.fixture("make_guardian")(self.child, person, "grandparent")
        return person

    @cached_property
    def pending_grant(self):
        """The mother's grant for the child, recorded by the team, awaiting review."""
        mother = self.fixture("make_person")(self.household, age=33)
        link = self.fixture("make_guardian")(self.child, mother, "mother")
        return self.fixture("make_consent")(
            self.fixture("field_worker"), self.child, "parental", guardianship=link
        )

    @cached_property
    def offer(self):
        return self.fixture("make_offer")(capacity=4)

    @cached_property
    def photo(self):
        return self.fixture("make_photo")(self.offer)

    @cached_property
    def proposal(self):
        self.adult  # noqa: B018 - someone present to be housed
        return self.fixture("make_proposal")(self.household, self.offer)

    @cached_property
    def evacuation(self):
        """A planned evacuation of the team, the adult in it."""
        self.granted  # noqa: B018 - the adult may leave
        evacuation = self.fixture("make_evacuation")(self.fixture("team"))
        self.in_session(
            lambda: evacuations.add_member(
                self.user("coordinator"), evacuation.id, {"person_id": self.adult.id}
            )
        )
        return evacuation

    @cached_property
    def departed(self):
        evacuation = self.evacuation
        self.in_session(lambda: evacuations.depart(self.user("coordinator"), evacuation.id))
        return evacuation

    @cached_property
    def accepted(self):
        """The household accepted the offer (the adult takes a place)."""
        proposal = self.proposal
        self.in_session(lambda: proposals.accept_proposal(self.user("coordinator"), proposal.id))
        return proposal

    @cached_property
    def account(self):
        """Someone's account, as administrators manage it."""
        return self.fixture("make_user")(COORDINATOR, username="corin-account")

    def users(self) -> dict[str, User]:
        return {
            "own_field_worker": self.fixture("field_worker"),
            "other_field_worker": self.fixture("other_field_worker"),
            "coordinator": self.fixture("coordinator"),
            "admin": self.fixture("admin"),
        }

    # --- inside a call's transaction ------------------------------------------------------

    def user(self, role: str):
        if role == "operator":
            return OPERATOR
        return db.session.get(User, self.users()[role].id)

    def in_session(self, work: Callable[[], object]) -> None:
        with self.app.app_context():
            work()
            db.session.commit()

    def recorded_missing(self, person) -> Person:
        """``person`` as ``update_person`` leaves them before their links follow: missing."""
        row = db.session.get(Person, person.id)
        row.status = "missing"
        return row

    def token_of(self, user_id) -> ApiToken:
        token = ApiToken(
            user_id=user_id,
            token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
            expires_at=now() + dt.timedelta(hours=1),
        )
        db.session.add(token)
        db.session.flush()
        return token


@dataclass
class Case:
    """One service function, how to call it, and what each role must meet."""

    name: str  # module.function
    call: Callable[[World, User], object]
    expected: dict[str, str | None]  # role -> ALLOWED / FORBIDDEN / HIDDEN (None: not asked)
    #: the World's records the call uses, made before any call's transaction begins
    needs: tuple[str, ...] = ()


def case_work(name, call, needs=()) -> Case:
    """Case data of the household's team: the team and coordinators only."""
    return Case(
        name,
        call,
        {
            "own_field_worker": ALLOWED,
            "other_field_worker": HIDDEN,
            "coordinator": ALLOWED,
            "admin": FORBIDDEN,
            "operator": FORBIDDEN,
        },
        needs,
    )


def coordinators_only(name, call, needs=()) -> Case:
    return Case(
        name,
        call,
        {
            "own_field_worker": FORBIDDEN,
            "other_field_worker": FORBIDDEN,
            "coordinator": ALLOWED,
            "admin": FORBIDDEN,
            "operator": FORBIDDEN,
        },
        needs,
    )


def administrators_only(name, call, needs=()) -> Case:
    return Case(
        name,
        call,
        {
            "own_field_worker": FORBIDDEN,
            "other_field_worker": FORBIDDEN,
            "coordinator": FORBIDDEN,
            "admin": ALLOWED,
            "operator": ALLOWED,
        },
        needs,
    )


def _evacuation_data(w: World) -> dict:
    return {
        "team_id": w.fixture("team").id,
        "planned_departure": now() + dt.timedelta(days=2),
        "mode": "vehicle",
        "meeting_point": "The bus stop by the bakery",
    }


CASES = [
    # --- households ---
    Case(
        "households.create_household",
        lambda w, a: households.create_household(a, {"locality": "Riverside"}),
        {
            "own_field_worker": ALLOWED,
            "other_field_worker": ALLOWED,  # for their own team
            "coordinator": ALLOWED,
            "admin": FORBIDDEN,
            "operator": FORBIDDEN,
        },
    ),
    case_work(
        "households.update_household",
        lambda w, a: households.update_household(a, w.household.id, {"priority": "high"}),
        ("household",),
    ),
    case_work(
        "households.change_household_status",
        lambda w, a: lifecycle.change_household_status(a, w.household.id, "engaging"),
        ("household",),
    ),
    case_work(
        "households.add_member",
        lambda w, a: persons.add_member(
            a, w.household.id, {"full_name": "New Member", "estimated_age": 40}
        ),
        ("household",),
    ),
    case_work(
        "households.update_person",
        lambda w, a: persons.update_person(a, w.adult.id, {"full_name": "Renamed Person"}),
        ("adult",),
    ),
    case_work(
        "households.add_guardian",
        lambda w, a: guardianships.add_guardian(
            a, w.child.id, {"external_name": "Aunt Abroad", "relationship": "other_relative"}
        ),
        ("child",),
    ),
    case_work(
        "households.update_guardianship",
        lambda w, a: guardianships.update_guardianship(
            a, w.outside_parent.id, {"external_contact": "+000 555 0199 (fictional)"}
        ),
        ("outside_parent",),
    ),
    case_work(
        "households.follow_guardian_status",
        lambda w, a: guardianships.follow_guardian_status(a, w.recorded_missing(w.grandmother)),
        ("grandmother",),
    ),
    # --- visits ---
    case_work(
        "visits.log_visit",
        lambda w, a: visits.log_visit(
            a, w.household.id, {"visited_at": now(), "outcome": "talked"}
        ),
        ("household",),
    ),
    # --- consents ---
    case_work(
        "consents.record_consent",
        lambda w, a: consents.record_consent(
            a,
            {
                "subject_id": w.adult.id,
                "basis": "self",
                "decision": "refused",
                "given_at": now(),
                "evidence": "signed_form",
            },
        ),
        ("adult",),
    ),
    coordinators_only(
        "consents.verify_consent",
        lambda w, a: consents.verify_consent(a, w.pending_grant.id, "Form checked."),
        ("pending_grant",),
    ),
    coordinators_only(
        "consents.reject_consent",
        lambda w, a: consents.reject_consent(a, w.pending_grant.id, "The form is not hers."),
        ("pending_grant",),
    ),
    case_work(
        "consents.revoke_consent",
        lambda w, a: consents.revoke_consent(a, w.granted.id, "She changed her mind."),
        ("granted",),
    ),
    # --- housing ---
    coordinators_only(
        "housing.create_offer",
        lambda w, a: housing.create_offer(
            a, {"title": "Room", "kind": "room", "locality": "Westbank", "capacity": 2}
        ),
    ),
    coordinators_only(
        "housing.update_offer",
        lambda w, a: housing.update_offer(a, w.offer.id, {"rooms": 3}),
        ("offer",),
    ),
    coordinators_only(
        "housing.add_photo",
        lambda w, a: photos.add_photo(a, w.offer.id, png_bytes(colour=(1, 2, 3)), "Hall"),
        ("offer",),
    ),
    coordinators_only(
        "housing.delete_photo",
        lambda w, a: photos.delete_photo(a, w.offer.id, w.photo.id),
        ("photo",),
    ),
    case_work(
        "housing.propose",
        lambda w, a: proposals.propose(a, w.household.id, {"offer_id": w.offer.id}),
        ("household", "offer"),
    ),
    case_work(
        "housing.show_proposal",
        lambda w, a: proposals.show_proposal(a, w.proposal.id),
        ("proposal",),
    ),
    case_work(
        "housing.accept_proposal",
        lambda w, a: proposals.accept_proposal(a, w.proposal.id),
        ("proposal",),
    ),
    case_work(
        "housing.decline_proposal",
        lambda w, a: proposals.decline_proposal(a, w.proposal.id, "Too far from school."),
        ("proposal",),
    ),
    case_work(
        "housing.withdraw_proposal",
        lambda w, a: proposals.withdraw_proposal(a, w.proposal.id, None),
        ("proposal",),
    ),
    # --- evacuations ---
    coordinators_only(
        "evacuations.plan_evacuation",
        lambda w, a: evacuations.plan_evacuation(a, _evacuation_data(w)),
    ),
    coordinators_only(
        "evacuations.add_member",
        lambda w, a: evacuations.add_member(a, w.evacuation.id, {"person_id": w.second_adult.id}),
        ("evacuation", "second_adult"),
    ),
    coordinators_only(
        "evacuations.remove_member",
        lambda w, a: evacuations.remove_member(a, w.evacuation.id, w.adult.id),
        ("evacuation",),
    ),
    coordinators_only(
        "evacuations.depart",
        lambda w, a: evacuations.depart(a, w.evacuation.id),
        ("evacuation",),
    ),
    coordinators_only(
        "evacuations.arrive",
        lambda w, a: evacuations.arrive(a, w.departed.id),
        ("departed",),
    ),
    coordinators_only(
        "households.record_arrival",
        lambda w, a: lifecycle.record_arrival(a, [w.adult.id]),
        ("departed",),
    ),
    coordinators_only(
        "housing.occupy_accepted_offers",
        lambda w, a: housing.occupy_accepted_offers(a, [w.household.id]),
        ("accepted",),
    ),
    coordinators_only(
        "evacuations.cancel",
        lambda w, a: evacuations.cancel(a, w.evacuation.id),
        ("evacuation",),
    ),
    # --- accounts ---
    administrators_only(
        "auth.create_team",
        lambda w, a: auth.create_team(a, name="Team Larch", area="The orchard lanes"),
    ),
    administrators_only(
        "auth.create_user",
        lambda w, a: auth.create_user(
            a, username="newcomer", role=COORDINATOR, password=PASSWORD, full_name="Nova Test"
        ),
    ),
    administrators_only(
        "auth.update_user",
        lambda w, a: auth.update_user(a, w.account.id, {"full_name": "Corin Renamed"}),
        ("account",),
    ),
    administrators_only(
        "auth.revoke_all_tokens",
        lambda w, a: auth.revoke_all_tokens(a, db.session.get(User, w.account.id)),
        ("account",),
    ),
    administrators_only(
        "auth.revoke_user_tokens",
        lambda w, a: auth.revoke_user_tokens(a, w.account.id),
        ("account",),
    ),
    administrators_only(
        "retention.purge",
        lambda w, a: retention.purge(a, 30, dry_run=True),
    ),
    administrators_only(
        "auth.revoke_token",  # someone else's token
        lambda w, a: tokens.revoke_token(a, w.token_of(w.account.id)),
        ("account",),
    ),
    Case(
        "auth.revoke_token",  # one's own token: logging out
        lambda w, a: tokens.revoke_token(a, w.token_of(a.id)),
        {
            "own_field_worker": ALLOWED,
            "other_field_worker": ALLOWED,
            "coordinator": ALLOWED,
            "admin": ALLOWED,
            "operator": None,  # the operator has no tokens
        },
    ),
]


def outcome(work: Callable[[], object]) -> str:
    try:
        work()
    except Forbidden:
        return FORBIDDEN
    except NotFound:
        return HIDDEN
    except Invalid as error:
        messages = [m for ms in (error.errors or {}).values() for m in ms]
        if any(str(m).startswith("No such") for m in messages):
            return HIDDEN
        return ALLOWED  # past the permission check: refused for a reason of the domain
    except DomainError:
        return ALLOWED  # a conflict of the domain, after the permission check
    return ALLOWED


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}-{i}" for i, c in enumerate(CASES)])
def test_each_role_meets_the_rule(app, request, case: Case):
    world = World(app, request)
    world.users()
    for need in case.needs:
        getattr(world, need)
    results = {}
    for role, expected in case.expected.items():
        if expected is None:
            continue
        with app.app_context():
            try:
                actor = world.user(role)
                results[role] = outcome(lambda actor=actor: case.call(world, actor))
            finally:
                db.session.rollback()
    wanted = {role: e for role, e in case.expected.items() if e is not None}
    assert results == wanted


def test_allowed_calls_really_change_state(app, request):
    """The table's "allowed" is no accident of an error: a few allowed calls, committed."""
    world = World(app, request)
    world.users()
    with app.app_context():
        offer = housing.create_offer(
            world.user("coordinator"),
            {"title": "Room", "kind": "room", "locality": "Westbank", "capacity": 2},
        )
        household = households.create_household(
            world.user("own_field_worker"), {"locality": "Riverside"}
        )
        team = auth.create_team(OPERATOR, name="Team Larch")
        db.session.commit()
        assert db.session.get(HousingOffer, offer.id).title == "Room"
        assert db.session.get(Household, household.id).team_id == world.fixture("team").id
        assert team.id is not None


def test_refusals_say_who_may_not_do_what(app, request):
    world = World(app, request)
    world.users()
    photo = world.photo
    with app.app_context():
        with pytest.raises(Forbidden) as refused:
            photos.delete_photo(world.user("own_field_worker"), photo.offer_id, photo.id)
        assert refused.value.code == "role_forbidden"
        assert refused.value.detail == (
            "A field worker may not manage housing offers or their photos."
        )
        with pytest.raises(Forbidden) as refused:
            households.create_household(OPERATOR, {"locality": "Riverside"})
        assert refused.value.code == "role_forbidden"
        assert refused.value.detail == "An administrator may not record households."
        db.session.rollback()


#: The lists under a household (or a child): each service function loads the household (or
#: the child) within its actor's scope itself, whoever calls it.
LIST_READS = {
    "households.list_members": lambda w, a, args: persons.list_members(a, w.household.id, args),
    "households.list_guardians": lambda w, a, args: guardianships.list_guardians(
        a, w.child.id, args
    ),
    "visits.list_visits": lambda w, a, args: visits.list_visits(a, w.household.id, args),
    "housing.list_matches": lambda w, a, args: matching.list_matches(a, w.household.id, args),
    "housing.list_proposals": lambda w, a, args: proposals.list_proposals(a, w.household.id, args),
    "timeline.list_timeline": lambda w, a, args: timeline.list_timeline(a, w.household.id, args),
}


@pytest.mark.parametrize("name", sorted(LIST_READS))
def test_a_list_under_a_household_is_read_within_the_actors_scope(app, request, name):
    world = World(app, request)
    world.users()
    assert world.outside_parent.child_id == world.child.id  # committed: household, child, link
    args = {"limit": 50, "cursor": None}
    results, pages = {}, {}
    for role in ("own_field_worker", "other_field_worker", "coordinator"):
        with app.app_context():
            try:
                actor = world.user(role)
                results[role] = outcome(
                    lambda actor=actor, role=role: pages.__setitem__(
                        role, LIST_READS[name](world, actor, args)
                    )
                )
            finally:
                db.session.rollback()

    assert name in READS
    assert results == {
        "own_field_worker": ALLOWED,
        "other_field_worker": HIDDEN,
        "coordinator": ALLOWED,
    }
    assert set(pages["own_field_worker"]) == {"items", "next_cursor"}


# --- the table is complete ----------------------------------------------------------------

#: Functions that take an actor and change nothing: reads within the actor's scope.
READS = {
    "consents.consents_query",
    "consents.get_consent",
    "consents.read_consent",
    "consents.read_eligibility",
    "evacuations.evacuation_scope",
    "evacuations.evacuations_query",
    "evacuations.get_evacuation",
    "evacuations.read_evacuation",
    "households.household_scope",
    "households.get_household",
    "households.lock_household",
    "households.read_household",
    "households.list_households_query",
    "households.person_scope",
    "households.get_person",
    "households.read_person",
    "households.list_members",
    "households.list_guardians",
    "households.get_guardianship",
    "households.read_guardianship",
    "housing.list_matches",
    "housing.list_proposals",
    "timeline.list_timeline",
    "visits.list_visits",
}
#: Public functions that take no actor, and why that is right for each.
NO_ACTOR = {
    "audit.*": "the audit trail's own machinery: records what actors do, acts for nobody",
    "idempotency.*": "the request layer's replay store, keyed by the caller's token",
    "timeline.*": "entries written by the services above for their actor; reads by scope",
    "reports.summary": "counts only; the endpoint is for coordinators",
    "auth.password_hasher": "no state",
    "auth.warm_up_login": "no state",
    "auth.hash_password": "no state",
    "auth.check_password_policy": "no state",
    "auth.password_matches": "no state",
    "auth.normalise_username": "no state",
    "auth.device_cookie_for": "signing in: the device of whoever just proved their password",
    "auth.trusted_device": "signing in: reads a signed cookie",
    "auth.issue_token": "signing in: the password is the proof, there is no actor yet",
    "auth.resolve_token": "authentication itself: finds the actor (notes a token's last use)",
    "auth.list_teams_query": "read",
    "auth.list_users_query": "read",
    "auth.get_team": "read",
    "auth.find_team": "read",
    "auth.get_user": "read",
    "auth.find_user": "read",
    "consents.load_with_context": "read of rows already in scope",
    "consents.saw_consents": "audits a read",
    "evacuations.load_evacuations": "read of rows already in scope",
    "evacuations.saw_evacuations": "audits a read",
    "households.households_with_counts": "read of rows already in scope",
    "households.load_counts": "read",
    "households.saw_households": "audits a read",
    "households.saw_household": "audits a read (of a record the operation loaded in scope)",
    "households.saw_members": "audits a read",
    "households.saw_guardians": "audits a read",
    "households.lock_persons": "takes row locks for the operations above, which check",
    "housing.offers_query": "read: offers are no case data, every case role reads them",
    "housing.load_offers": "read",
    "housing.saw_offers": "audits a read",
    "housing.read_offer": "read",
    "housing.get_offer": "read (locks for the operations above, which check)",
    "housing.settle_status": "an offer's status follows its places, under its caller's lock",
    "housing.get_photo": "read",
    "housing.check_offer_before_upload": "a 404 before a photo's body is read; offers are "
    "no case data, and add_photo checks its actor",
    "housing.read_photo": "read",
    "housing.saw_proposals": "audits a read",
    "housing.lock_blob": "a photo file's lock, for add_photo and release_blob",
    "housing.release_blob": "after a committed delete: removes a file no photo uses",
    "visits.load_visits": "read",
    "visits.saw_visits": "audits a read",
}


#: Each domain's service layer is its service.py and the modules split from it by concern.
SPLIT_SERVICE_MODULES = (
    "audit.chain",
    "audit.reading",
    "auth.passwords",
    "auth.tokens",
    "households.guardianships",
    "households.lifecycle",
    "households.persons",
    "households.scope",
    "housing.matching",
    "housing.photos",
    "housing.proposals",
)


def service_modules() -> list[str]:
    """The service modules, as ``package.module``."""
    found = [
        f"{p.parent.name}.service" for p in sorted((PROJECT_ROOT / "app").glob("*/service.py"))
    ]
    return [*found, *SPLIT_SERVICE_MODULES]


def service_functions() -> dict[str, Callable]:
    """Every public function of the service modules, as ``package.function``."""
    found = {}
    for dotted in service_modules():
        package = dotted.split(".")[0]
        module = importlib.import_module(f"app.{dotted}")
        for name, fn in vars(module).items():
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name[0] != "_":
                assert f"{package}.{name}" not in found, f"{package}.{name} is defined twice"
                found[f"{package}.{name}"] = fn
    return found


def _checks_an_actor(path: Path) -> bool:
    """Whether the module imports a check of the actor (``require_role``, ...)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "app.auth.permissions"
        and any(alias.name.startswith("require_") for alias in node.names)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def test_every_module_that_checks_an_actor_is_a_service_module():
    """A module of a domain that checks its actor holds operations the table must know: a
    new one, or one split from a service.py, is named in SPLIT_SERVICE_MODULES."""
    known = set(service_modules())
    checking = {
        f"{path.parent.name}.{path.stem}"
        for path in (PROJECT_ROOT / "app").glob("*/*.py")
        if _checks_an_actor(path)
    }

    assert "households.persons" in checking  # the check finds what it looks for
    assert checking <= known, checking - known
    for dotted in SPLIT_SERVICE_MODULES:
        assert (PROJECT_ROOT / "app" / f"{dotted.replace('.', '/')}.py").is_file(), dotted


def test_every_service_function_is_classified():
    table = {case.name for case in CASES}
    unclassified = []
    for name, fn in service_functions().items():
        package = name.split(".")[0]
        first = next(iter(inspect.signature(fn).parameters), None)
        if name in table:
            assert first == "actor", f"{name} changes state: its first parameter is the actor"
        elif name in READS:
            assert first == "actor", f"{name} reads within a scope: it takes the actor"
        elif name not in NO_ACTOR and f"{package}.*" not in NO_ACTOR:
            unclassified.append(name)
        elif first == "actor":
            unclassified.append(name)  # takes an actor: belongs in the table or READS
    assert not unclassified, (
        "Service functions this test does not know: add each to CASES (it changes state: "
        f"check its actor), READS, or NO_ACTOR with the reason: {unclassified}"
    )
    assert table <= set(service_functions()), table - set(service_functions())


def test_every_role_is_asked():
    for case in CASES:
        assert set(case.expected) == set(ROLES), case.name


# --- the operator at the command line ----------------------------------------------------


def test_the_operator_is_recorded_as_no_account_and_a_command(app):
    """`users create` acts as the operator: the trail names no account, and a `cli-` id."""
    result = app.test_cli_runner().invoke(
        args=["users", "create", "opal", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == "opal"))
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.entity_type == "users",
                AuditEvent.entity_id == str(user_id),
                AuditEvent.action == "create",
            )
        )
        assert event is not None
        assert event.actor_id is None
        assert event.request_id.startswith("cli-")
