def test_login_and_list(as_field_worker, make_household, team):
    make_household(team=team)
    response = as_field_worker.get("/api/v1/households")
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 1
