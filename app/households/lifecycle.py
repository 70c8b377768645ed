"""A household's lifecycle (DESIGN §10), and the arrival that ends an evacuation's part in it.

``identified → engaging → ready → evacuated``, with ``declined`` and ``closed`` (with a
reason) and re-opening. ``change_household_status`` is the one place a household's status
changes; a logged visit (app.visits) and an evacuation's arrival (``record_arrival``) move
it through that same function, naming their cause. Functions flush; the request or command
commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa

from app.auth.models import COORDINATOR, FIELD_WORKER, User
from app.auth.permissions import CASE_ROLES, require_role
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.households.models import (
    CLOSE_REASONS,
    HOUSEHOLD_STATUSES,
    STATUS_CAUSES,
    Household,
    Person,
)
from app.households.scope import get_household, lock_persons
from app.households.service import load_counts, saw_household

_TEAMS = frozenset({FIELD_WORKER, COORDINATOR})
_COORDINATORS = frozenset({COORDINATOR})
_OPEN = ("identified", "engaging", "ready", "evacuated", "declined")
#: Every move a person may make, and whose it is. Field workers move their team's households
#: among engaging, ready and declined; coordinators also close (with a reason) and re-open
#: (the team takes the case up again). Anything else is an invalid transition.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("identified", "engaging"): _TEAMS,
    ("identified", "declined"): _TEAMS,
    ("engaging", "ready"): _TEAMS,
    ("engaging", "declined"): _TEAMS,
    ("ready", "engaging"): _TEAMS,
    ("ready", "declined"): _TEAMS,
    ("declined", "engaging"): _TEAMS,
    ("declined", "ready"): _TEAMS,
    **{(status, "closed"): _COORDINATORS for status in _OPEN},
    ("closed", "engaging"): _COORDINATORS,
    ("evacuated", "engaging"): _COORDINATORS,
}
#: Moves only an evacuation's arrival makes: nobody of the household is left behind.
ARRIVAL_MOVES = frozenset(
    (status, "evacuated") for status in ("identified", "engaging", "ready", "declined")
)


def _invalid_transition(detail: str) -> Conflict:
    return Conflict(detail, code="invalid_transition")


def change_household_status(
    actor: User,
    household_id: uuid.UUID,
    status: str,
    reason: str | None = None,
    *,
    note: str | None = None,
    cause: str = "request",
    precondition: Callable[[Household], None] | None = None,
) -> Household:
    """Move a household along its lifecycle: the one place a household's status changes.

    The move must be in ``TRANSITIONS`` and the actor's role among those it names, or it is
    refused: 409 ``invalid_transition``, 403 for a role the move is not for, 404 for a
    household outside the actor's scope. Closing takes one of ``CLOSE_REASONS`` and an
    optional note (personal: the audit trail names it, never its words); re-opening clears
    both. ``evacuated`` is reached only with ``cause="arrival"``, from the evacuation step.
    The row is locked (then ``precondition``, e.g. an If-Match check, sees it), it changes
    (and so does its ETag), with what moved it (``status_cause``, one of ``STATUS_CAUSES``):
    the household's timeline says who moved it from what to what, and why; the audit event
    comes from the flush. Moved at a person's request, the household is the answer: a look
    at it is recorded too.
    """
    if cause not in STATUS_CAUSES:
        raise ValueError(f"unknown cause of a status change: {cause!r}")
    require_role(actor, *CASE_ROLES, doing="move a household along its lifecycle")
    if status not in HOUSEHOLD_STATUSES:
        raise Invalid({"status": [f"Must be one of: {', '.join(HOUSEHOLD_STATUSES)}."]})
    # a caller's pending changes to the household (a visit's dates) go out with this one:
    # one UPDATE, one new version
    with db.session.no_autoflush:
        household = get_household(actor, household_id, for_update=True)
    if precondition is not None:
        precondition(household)
    before = household.status
    _check_move(actor, before, status, cause)
    note = (note or "").strip() or None
    _check_closing(before, status, reason, note)

    household.status, household.status_cause = status, cause
    if status == "closed":
        household.closed_reason, household.closed_note = reason, note
    elif before == "closed":
        household.closed_reason = household.closed_note = None
    db.session.flush()
    load_counts(household)
    if cause == "request":
        saw_household(household, "household_status", actor)
    return household


def _check_move(actor: User, before: str, status: str, cause: str) -> None:
    """The move from ``before`` to ``status`` is one ``actor`` may make for ``cause``: an
    arrival's is in ``ARRIVAL_MOVES`` and a coordinator's; any other in ``TRANSITIONS``,
    for the roles it names."""
    move = (before, status)
    if cause == "arrival":
        if actor.role != COORDINATOR:
            raise Forbidden("Evacuations are run by coordinators.", code="coordinator_required")
        if move not in ARRIVAL_MOVES:
            raise _invalid_transition(f"A household that is {before} cannot become {status}.")
    elif status == "evacuated":
        raise _invalid_transition(
            "A household becomes evacuated only when an evacuation arrives with the last of "
            "its members."
        )
    elif move not in TRANSITIONS:
        raise _invalid_transition(
            f"The household is already {before}."
            if before == status
            else f"A household that is {before} cannot become {status}."
        )
    elif actor.role not in TRANSITIONS[move]:
        raise Forbidden(
            "Only a coordinator closes or re-opens a household.", code="coordinator_required"
        )


def _check_closing(before: str, status: str, reason: str | None, note: str | None) -> None:
    """Closing names one of ``CLOSE_REASONS`` (evacuated and arrived only for an evacuated
    household); no other move takes a reason or a note."""
    if status == "closed":
        if reason is None:
            raise Invalid(
                {"reason": [f"Say why the household is closed: {', '.join(CLOSE_REASONS)}."]}
            )
        if reason not in CLOSE_REASONS:
            raise Invalid({"reason": [f"Must be one of: {', '.join(CLOSE_REASONS)}."]})
        if reason == "evacuated_and_arrived" and before != "evacuated":
            raise _invalid_transition(
                "Only an evacuated household is closed as evacuated and arrived."
            )
    elif reason is not None:
        raise Invalid({"reason": ["A reason is given only when closing a household."]})
    elif note is not None:
        raise Invalid({"note": ["A note is given only when closing a household."]})


def record_arrival(actor: User, person_ids) -> set[uuid.UUID]:
    """An evacuation arrived with these people: the one place a person becomes evacuated.

    Each still present is evacuated (someone recorded missing or deceased on the way did
    not arrive); a household with nobody left present is evacuated through its lifecycle
    (``change_household_status``, cause ``arrival``; one a coordinator has closed stays
    closed). The people are locked first, in one ``lock_persons`` call, then the emptied
    households in id order (steps 2 and 4 of the lock order). Returns the households of
    these people, for the arrival's next step (their housing).
    """
    require_role(actor, COORDINATOR, doing="record an evacuation's arrival (coordinators do)")
    persons = lock_persons(person_ids)
    for person in persons.values():
        if person.status == "present":
            person.status = "evacuated"
    db.session.flush()
    household_ids = {person.household_id for person in persons.values()}
    emptied = db.session.scalars(
        sa.select(Household.id)
        .where(Household.id.in_(household_ids), Household.status.not_in(("evacuated", "closed")))
        .where(
            ~sa.select(Person.id)
            .where(Person.household_id == Household.id, Person.status == "present")
            .exists()
        )
        .order_by(Household.id)
        .with_for_update()
    ).all()
    for household_id in emptied:
        change_household_status(actor, household_id, "evacuated", cause="arrival")
    return household_ids
