"""List endpoints issue the same number of SQL statements for 1 item and for 50 (no N+1)."""

from __future__ import annotations

from tests.households.helpers import born


def statements_for(client, count_queries, url: str, expected_items: int) -> int:
    """The SQL statements one GET of ``url`` runs (after a warm-up request)."""
    client.get(url)  # the first request after login also records the token's last use
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["items"]) == expected_items
    return counter.count


def test_household_list(as_field_worker, count_queries, make_household, make_person):
    first = make_household()
    make_person(first, age=30)
    make_person(first, date_of_birth=born(4))
    one = statements_for(as_field_worker, count_queries, "/api/v1/households", 1)

    for _ in range(49):
        make_person(make_household(), date_of_birth=born(9))
    fifty = statements_for(as_field_worker, count_queries, "/api/v1/households", 50)

    assert one == fifty
    listed = as_field_worker.get("/api/v1/households").get_json()["items"]
    assert sum(item["child_count"] for item in listed) == 50


def test_household_search(as_field_worker, count_queries, make_household, make_person):
    make_person(make_household(), full_name="Олена 0")
    url = "/api/v1/households?q=олена"
    one = statements_for(as_field_worker, count_queries, url, 1)

    for i in range(1, 50):
        make_person(make_household(), full_name=f"Олена {i}")
    fifty = statements_for(as_field_worker, count_queries, url, 50)

    assert one == fifty


def test_members_list(as_field_worker, count_queries, household, make_person):
    url = f"/api/v1/households/{household.id}/members"
    make_person(household, age=40)
    one = statements_for(as_field_worker, count_queries, url, 1)

    for i in range(49):
        make_person(household, age=i)
    fifty = statements_for(as_field_worker, count_queries, url, 50)

    assert one == fifty


def test_guardians_list(as_field_worker, count_queries, household, make_person, make_guardian):
    child = make_person(household, date_of_birth=born(7))
    make_guardian(child, make_person(household, age=35), "mother")
    url = f"/api/v1/persons/{child.id}/guardians"
    one = statements_for(as_field_worker, count_queries, url, 1)

    make_guardian(child, make_person(household, age=65), "grandparent")
    for i in range(48):
        make_guardian(child, None, "other", external_name=f"Neighbour {i}")
    fifty = statements_for(as_field_worker, count_queries, url, 50)

    assert one == fifty
