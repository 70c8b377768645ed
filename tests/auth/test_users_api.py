"""Administrators manage teams, user accounts and tokens; they never see case data."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.auth.models import ADMIN, COORDINATOR, FIELD_WORKER, ApiToken, User
from app.extensions import db
from tests.conftest import PASSWORD, ApiClient

PROBLEM = "application/problem+json"
NEW_PASSWORD = "lantern-quiet-harbour"


def _new_user(**fields) -> dict:
    body = {
        "username": "newbie",
        "full_name": "Nova Example",
        "role": COORDINATOR,
        "password": NEW_PASSWORD,
    }
    body.update(fields)
    return body


def _assert_no_password(response, *secrets: str) -> None:
    text = response.get_data(as_text=True)
    for secret in (NEW_PASSWORD, PASSWORD, *secrets):
        assert secret not in text
    body = response.get_json()
    users = body.get("items", [body]) if isinstance(body, dict) else []
    for user in users:
        assert "password" not in user
        assert "password_hash" not in user


def _stored_user(app, username: str) -> User | None:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


# --- teams -------------------------------------------------------------------------------


def test_admin_creates_a_team(as_admin):
    response = as_admin.post("/api/v1/teams", json={"name": "Team East", "area": "Docks"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Team East"
    assert body["area"] == "Docks"
    uuid.UUID(body["id"])

    listed = as_admin.get("/api/v1/teams").get_json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]


def test_team_create_honours_a_client_chosen_id(as_admin):
    team_id = str(uuid.uuid4())
    response = as_admin.post("/api/v1/teams", json={"id": team_id, "name": "Team East"})
    assert response.status_code == 201
    assert response.get_json()["id"] == team_id

    again = as_admin.post("/api/v1/teams", json={"id": team_id, "name": "Team West"})
    assert again.status_code == 409
    assert again.mimetype == PROBLEM
    names = [t["name"] for t in as_admin.get("/api/v1/teams").get_json()["items"]]
    assert names == ["Team East"]


def test_duplicate_team_name_is_409(as_admin, make_team):
    make_team("Team East")
    response = as_admin.post("/api/v1/teams", json={"name": "Team East"})
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert len(as_admin.get("/api/v1/teams").get_json()["items"]) == 1


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "Team East", "colour": "red"}]
)
def test_invalid_team_is_422(as_admin, body):
    response = as_admin.post("/api/v1/teams", json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"]
    assert as_admin.get("/api/v1/teams").get_json()["items"] == []


def test_teams_are_listed_page_by_page(as_admin, make_team):
    for name in ("Team C", "Team A", "Team E", "Team B", "Team D"):
        make_team(name)

    seen = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = as_admin.get("/api/v1/teams", query_string=query)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["items"]) <= 2
        seen += [t["name"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Team A", "Team B", "Team C", "Team D", "Team E"]
    assert pages == 3


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}])
def test_bad_team_page_arguments_are_422(as_admin, query):
    response = as_admin.get("/api/v1/teams", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM


def test_every_role_may_list_teams_but_only_admins_create_them(
    as_coordinator, as_field_worker, team
):
    for session in (as_coordinator, as_field_worker):
        names = [t["name"] for t in session.get("/api/v1/teams").get_json()["items"]]
        assert names == [team.name]
        response = session.post("/api/v1/teams", json={"name": "Rogue team"})
        assert response.status_code == 403
        assert response.mimetype == PROBLEM


# --- creating users ----------------------------------------------------------------------


def test_admin_creates_a_coordinator_who_can_log_in(app, as_admin, client):
    response = as_admin.post("/api/v1/users", json=_new_user())
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "newbie"
    assert body["full_name"] == "Nova Example"
    assert body["role"] == COORDINATOR
    assert body["team_id"] is None
    assert body["is_active"] is True
    assert response.headers["Location"] == f"/api/v1/users/{body['id']}"
    assert as_admin.get(response.headers["Location"]).headers["ETag"] == response.headers["ETag"]
    _assert_no_password(response)

    stored = _stored_user(app, "newbie")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")

    login = client.post(
        "/api/v1/auth/tokens", json={"username": "newbie", "password": NEW_PASSWORD}
    )
    assert login.status_code == 201
    _assert_no_password(login)


def test_admin_creates_a_field_worker_in_a_team_with_a_chosen_id(as_admin, team):
    user_id = str(uuid.uuid4())
    response = as_admin.post(
        "/api/v1/users",
        json=_new_user(id=user_id, role=FIELD_WORKER, team_id=str(team.id)),
    )
    assert response.status_code == 201
    assert response.get_json()["id"] == user_id
    assert response.get_json()["team_id"] == str(team.id)

    again = as_admin.post("/api/v1/users", json=_new_user(id=user_id, username="other"))
    assert again.status_code == 409
    assert again.mimetype == PROBLEM


def test_username_is_stored_lower_case(app, as_admin):
    response = as_admin.post("/api/v1/users", json=_new_user(username="NewBie"))
    assert response.status_code == 201
    assert response.get_json()["username"] == "newbie"
    assert _stored_user(app, "newbie") is not None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"role": FIELD_WORKER}, "team_id"),
        ({"role": FIELD_WORKER, "team_id": None}, "team_id"),
        ({"role": COORDINATOR, "team_id": str(uuid.uuid4())}, "team_id"),
        ({"role": "superuser"}, "role"),
        ({"password": "short-pw"}, "password"),
        ({"password": "i-am-newbie-and-proud"}, "password"),
        ({"password": "Nova's-own-password"}, "password"),
        ({"username": "a b c"}, "username"),
        ({"username": "ab"}, "username"),
        ({"is_admin": True}, "is_admin"),
        ({"password": None}, "password"),
    ],
)
def test_invalid_user_is_422(app, as_admin, fields, field):
    response = as_admin.post("/api/v1/users", json=_new_user(**fields))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert field in body["errors"]
    _assert_no_password(response, *[v for v in fields.values() if isinstance(v, str)])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize("field", ["username", "role", "password"])
def test_user_create_requires_field(as_admin, field):
    body = _new_user()
    del body[field]
    response = as_admin.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_duplicate_username_is_409(as_admin, make_user):
    make_user(COORDINATOR, username="newbie")
    response = as_admin.post("/api/v1/users", json=_new_user(username="NEWBIE"))
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    _assert_no_password(response)


def test_idempotent_user_create_replays_without_password(as_admin):
    headers = {"Idempotency-Key": "create-newbie-1"}
    first = as_admin.post("/api/v1/users", json=_new_user(), headers=headers)
    second = as_admin.post("/api/v1/users", json=_new_user(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    _assert_no_password(second)
    items = as_admin.get("/api/v1/users", query_string={"role": COORDINATOR}).get_json()["items"]
    assert [u["username"] for u in items] == ["newbie"]


# --- listing and reading users -----------------------------------------------------------


def test_users_are_listed_with_role_and_team_filters(as_admin, admin, make_user, team, other_team):
    north = make_user(FIELD_WORKER, team, username="north1")
    make_user(FIELD_WORKER, other_team, username="south1")
    coordinator = make_user(COORDINATOR, username="planner")

    def usernames(**query):
        response = as_admin.get("/api/v1/users", query_string=query)
        assert response.status_code == 200
        _assert_no_password(response)
        return [u["username"] for u in response.get_json()["items"]]

    assert usernames() == sorted([admin.username, "north1", "planner", "south1"])
    assert usernames(role=FIELD_WORKER) == ["north1", "south1"]
    assert usernames(role=COORDINATOR) == [coordinator.username]
    assert usernames(team_id=str(team.id)) == [north.username]
    assert usernames(role=COORDINATOR, team_id=str(team.id)) == []


def test_users_are_listed_page_by_page(as_admin, make_user):
    for i in range(4):
        make_user(COORDINATOR, username=f"user{i}")
    first = as_admin.get("/api/v1/users", query_string={"limit": 3}).get_json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    second = as_admin.get(
        "/api/v1/users", query_string={"limit": 3, "cursor": first["next_cursor"]}
    ).get_json()
    assert second["next_cursor"] is None
    names = [u["username"] for u in first["items"] + second["items"]]
    assert len(names) == len(set(names)) == 5


@pytest.mark.parametrize("query", [{"role": "superuser"}, {"team_id": "not-a-uuid"}])
def test_bad_user_filters_are_422(as_admin, query):
    response = as_admin.get("/api/v1/users", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM


def test_user_by_id_has_an_etag(as_admin, field_worker, team):
    response = as_admin.get(f"/api/v1/users/{field_worker.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(field_worker.id)
    assert body["team_id"] == str(team.id)
    assert body["role"] == FIELD_WORKER
    assert response.headers["ETag"]
    _assert_no_password(response)


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("delete", "/tokens")])
def test_unknown_user_is_404(as_admin, method, suffix):
    url = f"/api/v1/users/{uuid.uuid4()}{suffix}"
    kwargs = (
        {"json": {"full_name": "X"}, "headers": {"If-Match": '"1"'}} if method == "patch" else {}
    )
    response = getattr(as_admin, method)(url, **kwargs)
    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_malformed_user_id_is_404(as_admin):
    response = as_admin.get("/api/v1/users/not-a-uuid")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM


# --- changing users ----------------------------------------------------------------------


def _patch(session: ApiClient, user, changes: dict, etag: str | None = "fetch"):
    if etag == "fetch":
        etag = session.get(f"/api/v1/users/{user.id}").headers["ETag"]
    headers = {"If-Match": etag} if etag else {}
    return session.patch(f"/api/v1/users/{user.id}", json=changes, headers=headers)


def test_patch_without_if_match_is_428(app, as_admin, make_user):
    user = make_user(COORDINATOR, full_name="Old Name")
    response = _patch(as_admin, user, {"full_name": "New Name"}, etag=None)
    assert response.status_code == 428
    assert response.mimetype == PROBLEM
    assert _stored_user(app, user.username).full_name == "Old Name"


def test_patch_with_stale_if_match_is_412(app, as_admin, make_user):
    user = make_user(COORDINATOR, full_name="Old Name")
    stale = as_admin.get(f"/api/v1/users/{user.id}").headers["ETag"]
    assert _patch(as_admin, user, {"full_name": "First Change"}).status_code == 200

    response = _patch(as_admin, user, {"full_name": "Second Change"}, etag=stale)
    assert response.status_code == 412
    assert response.mimetype == PROBLEM
    assert response.headers["ETag"] != stale
    assert _stored_user(app, user.username).full_name == "First Change"


def test_patch_changes_name_and_bumps_version(as_admin, make_user):
    user = make_user(COORDINATOR, full_name="Old Name")
    before = as_admin.get(f"/api/v1/users/{user.id}")

    response = _patch(as_admin, user, {"full_name": "New Name"}, etag=before.headers["ETag"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["full_name"] == "New Name"
    assert body["version"] == before.get_json()["version"] + 1
    assert response.headers["ETag"] != before.headers["ETag"]
    after = as_admin.get(f"/api/v1/users/{user.id}")
    assert after.get_json()["full_name"] == "New Name"
    assert after.headers["ETag"] == response.headers["ETag"]


def test_patch_moves_a_field_worker_to_another_team(login, as_admin, field_worker, other_team):
    response = _patch(as_admin, field_worker, {"team_id": str(other_team.id)})
    assert response.status_code == 200
    assert response.get_json()["team_id"] == str(other_team.id)
    assert login(field_worker).get("/api/v1/me").get_json()["team_id"] == str(other_team.id)


def test_patch_changes_role(login, as_admin, field_worker):
    response = _patch(as_admin, field_worker, {"role": COORDINATOR, "team_id": None})
    assert response.status_code == 200
    assert response.get_json()["role"] == COORDINATOR
    assert response.get_json()["team_id"] is None

    session = login(field_worker)
    assert session.get("/api/v1/me").get_json()["role"] == COORDINATOR
    assert session.get("/api/v1/households").status_code == 200


def test_patch_promotes_a_coordinator_to_admin(login, as_admin, make_user):
    user = make_user(COORDINATOR)
    assert login(user).get("/api/v1/users").status_code == 403
    assert _patch(as_admin, user, {"role": ADMIN}).status_code == 200
    assert login(user).get("/api/v1/users").status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team_id": None}, "team_id"),
        ({"team_id": str(uuid.uuid4())}, "team_id"),
        ({"role": "superuser"}, "role"),
        ({"full_name": ""}, "full_name"),
        ({"password": "short-pw"}, "password"),
        ({"username": "renamed"}, "username"),
        ({"version": 7}, "version"),
    ],
)
def test_invalid_patch_is_422_and_changes_nothing(app, as_admin, field_worker, changes, field):
    before = _stored_user(app, field_worker.username)
    response = _patch(as_admin, field_worker, changes)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    _assert_no_password(response, "short-pw")
    after = _stored_user(app, field_worker.username)
    assert (after.team_id, after.role, after.full_name, after.version, after.password_hash) == (
        before.team_id,
        before.role,
        before.full_name,
        before.version,
        before.password_hash,
    )


def test_demoting_a_coordinator_to_field_worker_needs_a_team(as_admin, make_user, team):
    user = make_user(COORDINATOR)
    assert _patch(as_admin, user, {"role": FIELD_WORKER}).status_code == 422
    response = _patch(as_admin, user, {"role": FIELD_WORKER, "team_id": str(team.id)})
    assert response.status_code == 200
    assert response.get_json()["team_id"] == str(team.id)


def test_patch_password_changes_login_and_ends_sessions(client, login, as_admin, make_user):
    user = make_user(COORDINATOR, username="corin")
    old_session = login(user)

    response = _patch(as_admin, user, {"password": NEW_PASSWORD})
    assert response.status_code == 200
    _assert_no_password(response)

    assert old_session.get("/api/v1/me").status_code == 401
    old = client.post("/api/v1/auth/tokens", json={"username": "corin", "password": PASSWORD})
    assert old.status_code == 401
    assert login(user, NEW_PASSWORD).get("/api/v1/me").status_code == 200


def test_patch_password_is_checked_against_the_policy(as_admin, make_user):
    user = make_user(COORDINATOR, username="corin", full_name="Corin Example")
    response = _patch(as_admin, user, {"password": "corin-is-my-name-ok"})
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]


def test_deactivating_a_user_is_shown_in_the_list(as_admin, make_user):
    user = make_user(COORDINATOR, username="corin")
    response = _patch(as_admin, user, {"is_active": False})
    assert response.status_code == 200
    assert response.get_json()["is_active"] is False
    items = as_admin.get("/api/v1/users", query_string={"role": COORDINATOR}).get_json()["items"]
    assert [(u["username"], u["is_active"]) for u in items] == [("corin", False)]


@pytest.mark.parametrize("changes", [{"is_active": False}, {"role": COORDINATOR}])
def test_admin_cannot_lock_themselves_out(app, as_admin, admin, changes):
    response = _patch(as_admin, admin, changes)
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    stored = _stored_user(app, admin.username)
    assert stored.is_active is True
    assert stored.role == ADMIN
    assert as_admin.get("/api/v1/me").status_code == 200


def test_admin_may_rename_themselves(as_admin, admin):
    response = _patch(as_admin, admin, {"full_name": "Renamed Admin", "role": ADMIN})
    assert response.status_code == 200
    assert response.get_json()["full_name"] == "Renamed Admin"


def test_admin_may_disable_another_admin(login, as_admin, make_user):
    other = make_user(ADMIN)
    other_session = login(other)
    assert _patch(as_admin, other, {"is_active": False}).status_code == 200
    assert other_session.get("/api/v1/me").status_code == 401


# --- revoking tokens ---------------------------------------------------------------------


def test_admin_revokes_all_tokens_of_a_user(app, login, as_admin, make_user):
    user = make_user(COORDINATOR)
    other = make_user(COORDINATOR)
    phone, tablet = login(user), login(user)
    bystander = login(other)
    assert phone.delete("/api/v1/auth/tokens/current").status_code == 204
    tablet2 = login(user)

    response = as_admin.delete(f"/api/v1/users/{user.id}/tokens")
    assert response.status_code == 200
    assert response.get_json() == {"revoked": 2}

    assert tablet.get("/api/v1/me").status_code == 401
    assert tablet2.get("/api/v1/me").status_code == 401
    assert bystander.get("/api/v1/me").status_code == 200
    assert as_admin.get("/api/v1/me").status_code == 200
    with app.app_context():
        live = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    assert live == 0

    again = as_admin.delete(f"/api/v1/users/{user.id}/tokens")
    assert again.get_json() == {"revoked": 0}
    # the account itself still works: a new login gets a fresh token
    assert login(user).get("/api/v1/me").status_code == 200


# --- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [COORDINATOR, FIELD_WORKER])
def test_case_roles_may_not_manage_users(login, make_user, role):
    caller = make_user(role)
    target = make_user(COORDINATOR)
    session = login(caller)
    calls = [
        session.get("/api/v1/users"),
        session.post("/api/v1/users", json=_new_user()),
        session.get(f"/api/v1/users/{target.id}"),
        session.patch(
            f"/api/v1/users/{target.id}", json={"is_active": False}, headers={"If-Match": '"1"'}
        ),
        session.delete(f"/api/v1/users/{target.id}/tokens"),
        session.patch(
            f"/api/v1/users/{caller.id}", json={"role": ADMIN}, headers={"If-Match": '"1"'}
        ),
    ]
    for response in calls:
        assert response.status_code == 403
        assert response.mimetype == PROBLEM
    assert login(target).get("/api/v1/me").get_json()["is_active"] is True
    assert login(caller).get("/api/v1/me").get_json()["role"] == role


def test_anonymous_may_not_manage_users(anonymous, coordinator):
    for response in (
        anonymous.get("/api/v1/users"),
        anonymous.post("/api/v1/users", json=_new_user()),
        anonymous.get("/api/v1/teams"),
        anonymous.delete(f"/api/v1/users/{coordinator.id}/tokens"),
    ):
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers


def test_admin_has_no_access_to_case_data(as_admin, make_household):
    household = make_household()
    for response in (
        as_admin.get("/api/v1/households"),
        as_admin.get(f"/api/v1/households/{household.id}"),
        as_admin.post("/api/v1/households", json={"locality": "Riverside"}),
    ):
        assert response.status_code == 403
        assert response.mimetype == PROBLEM
        assert "Riverside" not in response.get_data(as_text=True)
