"""The field-to-arrival workflow, through a client generated from the served OpenAPI document.

Run by ``tests/contract/test_generated_client.py`` in a process of its own::

    python generated_client_workflow.py BASE_URL

with the generated package ``safe_passage_client`` importable (``PYTHONPATH``) and the
accounts named in ``SP_FIELD_WORKER``, ``SP_COORDINATOR`` and ``SP_PASSWORD``. It writes no
HTTP of its own: every request is a generated function, every answer is checked as the
generated models type it, so what a client developer would trip over fails here first. It
prints one line per step, so a failure shows where the workflow stopped.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image
from safe_passage_client import AuthenticatedClient, Client
from safe_passage_client import models as m
from safe_passage_client.api.auth import log_in
from safe_passage_client.api.consents import get_eligibility, record_consent, verify_consent
from safe_passage_client.api.evacuations import (
    add_evacuation_member,
    arrive_evacuation,
    depart_evacuation,
    get_evacuation,
    plan_evacuation,
)
from safe_passage_client.api.households import (
    add_guardian,
    add_member,
    create_household,
    get_household,
    get_person,
    update_household,
)
from safe_passage_client.api.housing import (
    accept_proposal,
    create_housing_offer,
    download_offer_photo,
    propose_housing,
    show_proposal,
    upload_offer_photo,
)
from safe_passage_client.api.visits import log_visit
from safe_passage_client.types import File, Response

T = TypeVar("T")
PHOTO_SIZE = (64, 48)
COLOUR = (40, 120, 200)


@dataclass
class Family:
    household: m.Household
    mother: m.Person
    child: m.Person
    teenager: m.Person
    grandfather: m.Person
    #: the mother's guardianship link to the child
    link: m.Guardianship


def expect(step: str, response: Response[Any], status: int, model: type[T]) -> T:
    """The answer has this status and the generated client parsed it into this model."""
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, model):
        raise SystemExit(
            f"FAILED {step}: wanted {status} {model.__name__}, got {int(response.status_code)} "
            f"{type(parsed).__name__}: {response.content[:800]!r}"
        )
    print(f"ok  {step}: {status} {model.__name__}", flush=True)
    return parsed


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> str:
    """An Idempotency-Key, as a device that may retry sends with each create."""
    return str(uuid.uuid4())


def log_in_as(base_url: str, username: str, password: str, role: m.UserRole) -> AuthenticatedClient:
    body = m.TokenRequest(username=username, password=password, device_label="contract test")
    answer = log_in.sync_detailed(client=Client(base_url=base_url), body=body)
    token = expect(f"logIn {username}", answer, 201, m.Token)
    assert token.user.role == role and token.expires_at > now(), token
    return AuthenticatedClient(base_url=base_url, token=token.token)


def new_person(field: AuthenticatedClient, household: m.Household, **fields: Any) -> m.Person:
    body = m.PersonCreate(**fields)
    answer = add_member.sync_detailed(
        household.id, client=field, body=body, idempotency_key=new_key()
    )
    person = expect(f"addMember {body.full_name}", answer, 201, m.Person)
    assert person.household_id == household.id and person.status == m.PersonStatus.PRESENT
    return person


def register_family(field: AuthenticatedClient) -> Family:
    """A household of four: a mother, her small child, a teenager, and a grandfather."""
    body = m.HouseholdInput(locality="Riverside", address_description="Basement by school 11")
    answer = create_household.sync_detailed(client=field, body=body, idempotency_key=new_key())
    household = expect("createHousehold", answer, 201, m.Household)
    assert household.ref and household.member_count == 0, household
    mother = new_person(
        field, household, full_name="Iryna", sex=m.PersonSex.FEMALE, estimated_age=34
    )
    child = new_person(field, household, full_name="Sofiia", estimated_age=7)
    assert child.is_child and child.dob_estimated and child.age == 7, child
    teenager = new_person(field, household, full_name="Maksym", estimated_age=15)
    grandfather = new_person(field, household, full_name="Petro", estimated_age=68)
    assert grandfather.is_elderly and not grandfather.is_child, grandfather
    mother_of = m.GuardianshipInput(
        relationship=m.GuardianshipRelationship.MOTHER, guardian_person_id=mother.id
    )
    linked = add_guardian.sync_detailed(child.id, client=field, body=mother_of)
    link = expect("addGuardian mother of child", linked, 201, m.Guardianship)
    assert link.is_parent and link.child_id == child.id, link
    return Family(household, mother, child, teenager, grandfather, link)


def revise(field: AuthenticatedClient, household: m.Household) -> None:
    """A conditional read and a change, with the headers the document names."""
    read = get_household.sync_detailed(household.id, client=field)
    current = expect("getHousehold", read, 200, m.Household)
    assert current.member_count == 4 and current.child_count == 2, current
    etag = read.headers["ETag"]
    unchanged = get_household.sync_detailed(household.id, client=field, if_none_match=etag)
    assert unchanged.status_code == 304 and unchanged.parsed is None, unchanged.content
    assert unchanged.content == b""
    print("ok  getHousehold If-None-Match: 304", flush=True)
    body = m.HouseholdUpdate(priority=m.HouseholdPriority.HIGH, needs=[])
    answer = update_household.sync_detailed(household.id, client=field, body=body, if_match=etag)
    changed = expect("updateHousehold If-Match", answer, 200, m.Household)
    assert changed.priority == m.HouseholdPriority.HIGH and changed.version > current.version
    assert answer.headers["ETag"] != etag


def visit_and_consents(field: AuthenticatedClient, family: Family) -> m.Consent:
    """The visit the mother agreed on; her own consent and hers for the child."""
    stances = [
        m.VisitStanceInput(person_id=family.mother.id, stance=m.VisitStanceStance.WANTS_TO_LEAVE),
        m.VisitStanceInput(
            person_id=family.grandfather.id,
            stance=m.VisitStanceStance.WANTS_TO_STAY,
            note="Will not leave the flat.",
        ),
    ]
    body = m.VisitInput(
        visited_at=now() - dt.timedelta(hours=1),
        outcome=m.VisitOutcome.CONSENT_COLLECTED,
        stances=stances,
        concerns=[m.VisitConcernsItem.NO_MONEY, m.VisitConcernsItem.FEAR_OF_SEPARATION],
    )
    answer = log_visit.sync_detailed(family.household.id, client=field, body=body)
    visit = expect("logVisit", answer, 201, m.Visit)
    assert [s.stance for s in visit.stances] == [s.stance for s in stances], visit.stances
    own = record(field, family.mother, m.ConsentBasis.SELF, visit, None)
    assert own.review_status == m.ConsentReviewStatus.NOT_REQUIRED, own
    parental = record(field, family.child, m.ConsentBasis.PARENTAL, visit, family.link)
    assert parental.review_status == m.ConsentReviewStatus.PENDING_REVIEW, parental
    assert parental.guardianship_id == family.link.id, parental
    waiting = eligibility(field, family.child, "getEligibility child (before review)")
    assert not waiting.eligible, waiting
    assert [r.code for r in waiting.reasons] == ["consent_pending_review"], waiting.reasons
    return parental


def record(
    field: AuthenticatedClient,
    subject: m.Person,
    basis: m.ConsentBasis,
    visit: m.Visit,
    link: m.Guardianship | None,
) -> m.Consent:
    body = m.ConsentInput(
        subject_id=subject.id,
        basis=basis,
        decision=m.ConsentDecision.GRANTED,
        given_at=now() - dt.timedelta(minutes=50),
        evidence=m.ConsentEvidence.SIGNED_FORM,
        visit_id=visit.id,
    )
    if link is not None:
        body.guardianship_id = link.id
    answer = record_consent.sync_detailed(client=field, body=body, idempotency_key=new_key())
    consent = expect(f"recordConsent {basis} for {subject.full_name}", answer, 201, m.Consent)
    assert consent.subject_id == subject.id and consent.decision == m.ConsentDecision.GRANTED
    return consent


def eligibility(client: AuthenticatedClient, person: m.Person, step: str) -> m.Eligibility:
    answer = expect(
        step, get_eligibility.sync_detailed(person.id, client=client), 200, m.Eligibility
    )
    assert answer.person_id == person.id, answer
    return answer


def review(coordinator: AuthenticatedClient, parental: m.Consent, child: m.Person) -> None:
    body = m.Verify(note="Signed form checked.")
    answer = verify_consent.sync_detailed(parental.id, client=coordinator, body=body)
    verified = expect("verifyConsent", answer, 200, m.Consent)
    assert verified.review_status == m.ConsentReviewStatus.VERIFIED, verified
    now_eligible = eligibility(coordinator, child, "getEligibility child (verified)")
    assert now_eligible.eligible and now_eligible.reasons == [], now_eligible
    assert now_eligible.requirement == m.EligibilityRequirement.PARENTAL_CONSENT
    assert now_eligible.basis == m.EligibilityBasis.PARENTAL, now_eligible
    assert now_eligible.consent_id == parental.id, now_eligible


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, COLOUR).save(out, "PNG")
    return out.getvalue()


def offer_with_photo(coordinator: AuthenticatedClient) -> m.HousingOffer:
    """An offer, a photo of it uploaded, and the photo downloaded as the tablet shows it."""
    body = m.HousingOfferInput(
        title="Two rooms near the station",
        kind=m.HousingOfferKind.APARTMENT,
        locality="Westbank",
        capacity=5,
        monthly_rent="0.00",
        currency="EUR",
    )
    answer = create_housing_offer.sync_detailed(client=coordinator, body=body)
    offer = expect("createHousingOffer", answer, 201, m.HousingOffer)
    assert offer.free_capacity == 5 and offer.photos == [], offer
    upload = m.PhotoUpload(
        file=File(payload=io.BytesIO(png(PHOTO_SIZE)), file_name="room.png", mime_type="image/png"),
        caption="The bigger room",
    )
    uploaded = upload_offer_photo.sync_detailed(offer.id, client=coordinator, body=upload)
    photo = expect("uploadOfferPhoto", uploaded, 201, m.Photo)
    assert photo.content_type == m.PhotoContentType.IMAGEPNG, photo
    assert photo.caption == "The bigger room" and (photo.width, photo.height) == PHOTO_SIZE
    downloaded = download_offer_photo.sync_detailed(offer.id, photo.id, client=coordinator)
    image = Image.open(expect("downloadOfferPhoto", downloaded, 200, File).payload)
    assert image.format == "PNG" and image.size == PHOTO_SIZE, (image.format, image.size)
    assert image.convert("RGB").getpixel((3, 2)) == COLOUR
    return offer


def find_a_home(field: AuthenticatedClient, family: Family, offer: m.HousingOffer) -> None:
    """Proposed, shown on the tablet and accepted by the family."""
    body = m.ProposalInput(offer_id=offer.id)
    answer = propose_housing.sync_detailed(family.household.id, client=field, body=body)
    proposal = expect("proposeHousing", answer, 201, m.Proposal)
    assert proposal.status == m.ProposalStatus.PROPOSED, proposal
    answer = show_proposal.sync_detailed(proposal.id, client=field)
    assert expect("showProposal", answer, 200, m.Proposal).status == m.ProposalStatus.SHOWN
    answer = accept_proposal.sync_detailed(proposal.id, client=field)
    accepted = expect("acceptProposal", answer, 200, m.Proposal)
    assert accepted.status == m.ProposalStatus.ACCEPTED and accepted.places == 4, accepted


def evacuate(coordinator: AuthenticatedClient, family: Family, offer: m.HousingOffer) -> None:
    """Planned, the mother and her child in, the teenager refused, departed, arrived."""
    assert family.household.team_id, family.household  # a field worker's: their team's
    body = m.EvacuationInput(
        team_id=family.household.team_id,
        planned_departure=now() + dt.timedelta(hours=6),
        mode=m.EvacuationMode.ON_FOOT,
        meeting_point="The old water tower",
    )
    answer = plan_evacuation.sync_detailed(client=coordinator, body=body, idempotency_key=new_key())
    evacuation = expect("planEvacuation", answer, 201, m.Evacuation)
    assert evacuation.status == m.EvacuationStatus.PLANNED and evacuation.members == []
    mother, child = family.mother, family.child
    join(coordinator, evacuation, "mother", person_id=mother.id, destination_offer_id=offer.id)
    joined = join(
        coordinator,
        evacuation,
        "child with her mother",
        person_id=child.id,
        accompanied_by_person_id=mother.id,
        destination_offer_id=offer.id,
    )
    assert [member.person_id for member in joined.members] == [mother.id, child.id], joined
    refused_add(coordinator, evacuation, family.teenager)
    step(
        coordinator, evacuation, depart_evacuation, "departEvacuation", m.EvacuationStatus.DEPARTED
    )
    step(coordinator, evacuation, arrive_evacuation, "arriveEvacuation", m.EvacuationStatus.ARRIVED)
    answer = get_evacuation.sync_detailed(evacuation.id, client=coordinator)
    final = expect("getEvacuation", answer, 200, m.Evacuation)
    assert final.status == m.EvacuationStatus.ARRIVED and final.arrived_at, final
    assert final.departed_at and len(final.members) == 2, final
    moved = expect(
        "getPerson child", get_person.sync_detailed(child.id, client=coordinator), 200, m.Person
    )
    assert moved.status == m.PersonStatus.EVACUATED, moved


def join(
    coordinator: AuthenticatedClient, evacuation: m.Evacuation, who: str, **member: Any
) -> m.Evacuation:
    answer = add_evacuation_member.sync_detailed(
        evacuation.id, client=coordinator, body=m.MemberInput(**member), idempotency_key=new_key()
    )
    return expect(f"addEvacuationMember {who}", answer, 201, m.Evacuation)


def refused_add(
    coordinator: AuthenticatedClient, evacuation: m.Evacuation, teenager: m.Person
) -> None:
    """No consent and nobody with him: one 409 names both reasons, typed."""
    body = m.MemberInput(person_id=teenager.id)
    answer = add_evacuation_member.sync_detailed(evacuation.id, client=coordinator, body=body)
    problem = expect("addEvacuationMember teenager, refused", answer, 409, m.Problem)
    assert problem.status == 409 and problem.code == "not_eligible", problem
    assert isinstance(problem.reasons, list), problem  # sent only with a rule's refusal
    codes = sorted(reason.code for reason in problem.reasons)
    assert codes == ["consent_missing", "unaccompanied_child"], problem.reasons
    assert all(reason.person_id == teenager.id for reason in problem.reasons), problem.reasons
    assert all(reason.message for reason in problem.reasons), problem.reasons


def step(
    coordinator: AuthenticatedClient,
    evacuation: m.Evacuation,
    operation: Any,
    name: str,
    status: m.EvacuationStatus,
) -> None:
    """An action without a body: depart or arrive."""
    answer = operation.sync_detailed(evacuation.id, client=coordinator)
    assert expect(name, answer, 200, m.Evacuation).status == status


def main(base_url: str) -> None:
    password = os.environ["SP_PASSWORD"]
    field = log_in_as(base_url, os.environ["SP_FIELD_WORKER"], password, m.UserRole.FIELD_WORKER)
    family = register_family(field)
    revise(field, family.household)
    parental = visit_and_consents(field, family)
    coordinator = log_in_as(
        base_url, os.environ["SP_COORDINATOR"], password, m.UserRole.COORDINATOR
    )
    review(coordinator, parental, family.child)
    offer = offer_with_photo(coordinator)
    find_a_home(field, family, offer)
    evacuate(coordinator, family, offer)
    print("workflow complete", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
