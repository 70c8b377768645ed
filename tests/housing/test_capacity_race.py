"""Households accepting the last places of one offer at the same moment.

Every request runs in a thread of its own, through a test client of its own, on a database
connection of its own, all released together by a barrier. SQLite serialises the writers
(BEGIN IMMEDIATE); PostgreSQL takes the offer's row lock (SELECT ... FOR UPDATE). Either
way the places taken never exceed the capacity and always equal what the accepted
proposals hold.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.auth.models import FIELD_WORKER
from app.extensions import db
from app.housing.models import HousingOffer, HousingProposal
from tests.housing.helpers import action_url
from tests.http_helpers import etag_of

pytestmark = [pytest.mark.slow, pytest.mark.commits]

ROUNDS = 3


@pytest.fixture
def tokens(make_user, login, team) -> list[str]:
    """Bearer tokens of six field workers of one team: one per concurrent request."""
    return [login(make_user(FIELD_WORKER, team)).token for _ in range(6)]


def at_once(app, requests: list[tuple]) -> list[tuple[int, dict]]:
    """Send every ``(token, url, body)`` POST (or ``(token, url, body, method, headers)``)
    from its own thread and client, all released at once; the answers in the order given."""
    barrier = threading.Barrier(len(requests))
    results: list[tuple[int, dict] | None] = [None] * len(requests)
    failures: list[BaseException] = []

    def run(index: int, token: str, url: str, body: dict, method="post", headers=None) -> None:
        try:
            with app.test_client() as client:
                barrier.wait(timeout=10)
                response = client.open(
                    url,
                    method=method.upper(),
                    json=body,
                    headers={"Authorization": f"Bearer {token}", **(headers or {})},
                )
                results[index] = (response.status_code, response.get_json())
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            db.session.remove()

    threads = [
        threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert not failures, failures
    return [result for result in results if result is not None]


def stored(app, offer) -> tuple[HousingOffer, list[HousingProposal]]:
    with app.app_context():
        row = db.session.get(HousingOffer, offer.id)
        proposals = list(
            db.session.scalars(
                sa.select(HousingProposal).where(HousingProposal.offer_id == offer.id)
            )
        )
        db.session.expunge_all()
        return row, proposals


def race_for_one_offer(
    app,
    tokens,
    make_offer,
    make_household,
    make_person,
    make_proposal,
    *,
    capacity: int,
    sizes: list[int],
) -> tuple[list[tuple[int, dict]], HousingOffer, list[HousingProposal]]:
    offer = make_offer(capacity=capacity)
    proposals = []
    for size in sizes:
        household = make_household()
        for _ in range(size):
            make_person(household)
        proposals.append(make_proposal(household, offer))
    answers = at_once(
        app,
        [
            (token, action_url(proposal, "accept"), {})
            for token, proposal in zip(tokens, proposals, strict=False)
        ],
    )
    assert len(answers) == len(sizes)
    row, stored_proposals = stored(app, offer)
    return answers, row, stored_proposals


def check_outcome(answers, offer: HousingOffer, proposals: list[HousingProposal]) -> None:
    """What every race must end with, whoever wins it."""
    accepted = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status != 200]
    assert all(status in (200, 409) for status, _ in answers), answers
    assert {body["code"] for body in refused} <= {"capacity_exceeded"}, refused

    held = [p for p in proposals if p.status == "accepted"]
    assert sorted(str(p.id) for p in held) == sorted(body["id"] for body in accepted)
    assert all(p.status == "proposed" and p.places is None for p in proposals if p not in held)
    assert offer.taken == sum(p.places for p in held) <= offer.capacity
    assert offer.status == ("reserved" if offer.taken == offer.capacity else "available")


def test_five_single_people_race_for_three_places(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    for _ in range(ROUNDS):
        answers, offer, proposals = race_for_one_offer(
            app,
            tokens,
            make_offer,
            make_household,
            make_person,
            make_proposal,
            capacity=3,
            sizes=[1] * 5,
        )

        check_outcome(answers, offer, proposals)
        assert sorted(status for status, _ in answers) == [200, 200, 200, 409, 409]
        assert (offer.taken, offer.status) == (3, "reserved")


def test_three_couples_race_for_three_places(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    for _ in range(ROUNDS):
        answers, offer, proposals = race_for_one_offer(
            app,
            tokens,
            make_offer,
            make_household,
            make_person,
            make_proposal,
            capacity=3,
            sizes=[2, 2, 2],
        )

        check_outcome(answers, offer, proposals)
        assert sorted(status for status, _ in answers) == [200, 409, 409]
        assert (offer.taken, offer.status) == (2, "available")


def test_families_of_different_sizes_never_overfill(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    """Whoever wins, the offer is filled as far as the winners' sizes allow, never beyond."""
    for _ in range(ROUNDS):
        answers, offer, proposals = race_for_one_offer(
            app,
            tokens,
            make_offer,
            make_household,
            make_person,
            make_proposal,
            capacity=4,
            sizes=[3, 2, 1, 1],
        )

        check_outcome(answers, offer, proposals)
        left = offer.capacity - offer.taken
        waiting = [p for p in proposals if p.status == "proposed"]
        sizes = {str(p.id): size for p, size in zip(proposals, [3, 2, 1, 1], strict=True)}
        # every refused family really did not fit in what the winners left
        assert all(sizes[str(p.id)] > left for p in waiting)


def test_one_household_accepting_two_offers_at_once_holds_one(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    for _ in range(ROUNDS):
        household = make_household()
        make_person(household)
        make_person(household)
        offers = [make_offer(capacity=4) for _ in range(3)]
        proposals = [make_proposal(household, offer) for offer in offers]

        answers = at_once(
            app,
            [
                (token, action_url(proposal, "accept"), {})
                for token, proposal in zip(tokens, proposals, strict=False)
            ],
        )

        assert sorted(status for status, _ in answers) == [200, 409, 409], answers
        states = [stored(app, offer) for offer in offers]
        assert sum(1 for _, ps in states for p in ps if p.status == "accepted") == 1
        assert sorted(row.taken for row, _ in states) == [0, 0, 2]


def test_double_tap_on_accept_takes_places_once(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    for _ in range(ROUNDS):
        household = make_household()
        make_person(household)
        offer = make_offer(capacity=2)
        proposal = make_proposal(household, offer)

        answers = at_once(
            app, [(token, action_url(proposal, "accept"), {}) for token in tokens[:3]]
        )

        assert sorted(status for status, _ in answers) == [200, 409, 409], answers
        assert {body["code"] for status, body in answers if status == 409} == {"invalid_transition"}
        row, _ = stored(app, offer)
        assert (row.taken, row.status) == (1, "available")


def test_decline_racing_accepts_gives_back_exactly_its_places(
    app, tokens, make_offer, make_household, make_person, make_proposal
):
    """A family giving its places back while others take them: the count stays exact."""
    for _ in range(ROUNDS):
        offer = make_offer(capacity=3)
        leaving = make_household()
        make_person(leaving)
        make_person(leaving)
        holder = make_proposal(leaving, offer)
        with app.test_client() as client:
            accepted = client.post(
                action_url(holder, "accept"), headers={"Authorization": f"Bearer {tokens[0]}"}
            )
            assert accepted.status_code == 200
        others = []
        for _ in range(3):
            household = make_household()
            make_person(household)
            others.append(make_proposal(household, offer))

        requests: list[tuple[str, str, dict]] = [
            (tokens[0], action_url(holder, "decline"), {"reason": "Staying with relatives"})
        ]
        requests += [
            (token, action_url(p, "accept"), {})
            for token, p in zip(tokens[1:], others, strict=False)
        ]
        answers = at_once(app, requests)

        assert answers[0][0] == 200, answers[0]
        row, proposals = stored(app, offer)
        held = [p for p in proposals if p.status == "accepted"]
        assert row.taken == sum(p.places for p in held) <= row.capacity
        # the winners are those that found room: 1 place before the decline, 3 after it
        assert 1 <= len(held) <= 3
        assert row.status == ("reserved" if row.taken == row.capacity else "available")


def test_withdrawing_the_offer_while_families_accept(
    app, tokens, login, coordinator, make_offer, make_household, make_person, make_proposal
):
    """The coordinator withdraws the offer as families accept it: one side wins cleanly."""
    session = login(coordinator)
    boss = session.token
    for _ in range(ROUNDS * 2):
        offer = make_offer(capacity=4)
        proposals = []
        for _ in range(2):
            household = make_household()
            make_person(household)
            proposals.append(make_proposal(household, offer))
        url = f"/api/v1/housing-offers/{offer.id}"
        if_match = {"If-Match": etag_of(session, url)}

        answers = at_once(
            app,
            [
                (boss, url, {"status": "withdrawn"}, "patch", if_match),
                *[
                    (t, action_url(p, "accept"), {})
                    for t, p in zip(tokens[:2], proposals, strict=True)
                ],
            ],
        )

        row, stored_proposals = stored(app, offer)
        withdrawn, *accepts = answers
        assert withdrawn[0] in (200, 409, 412), withdrawn
        assert all(status in (200, 409) for status, _ in accepts), accepts
        held = [p for p in stored_proposals if p.status == "accepted"]
        assert row.taken == sum(p.places for p in held)
        if withdrawn[0] == 200:
            assert row.status == "withdrawn"
            assert held == []
            assert {p.status for p in stored_proposals} == {"withdrawn"}
        else:
            assert row.status == "available"
            assert len(held) >= 1
