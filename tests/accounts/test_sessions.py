"""Refresh token rotation, logout, password change: how sessions end."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase"


def login(user, account, password=PASSWORD):
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": password, "account_id": str(account.id)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh_with(refresh):
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")


def bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_a_refresh_rotates_the_token_and_the_rotated_out_one_is_refused(owner, account):
    first = login(owner, account)["refresh"]
    response = refresh_with(first)
    assert response.status_code == 200
    second = response.json()["refresh"]
    assert second != first

    reused = refresh_with(first)
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    # The new one works, once.
    assert refresh_with(second).status_code == 200
    assert refresh_with(second).status_code == 401


def test_logout_revokes_the_refresh_token(owner, account):
    tokens = login(owner, account)
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    refused = refresh_with(tokens["refresh"])
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_not_valid"
    # Another session of the same user is untouched.
    assert refresh_with(login(owner, account)["refresh"]).status_code == 200


@pytest.mark.parametrize(
    "body, status, code",
    [({}, 400, "validation_error"), ({"refresh": "not.a.token"}, 401, "token_not_valid")],
)
def test_logout_refuses_a_missing_or_bad_token(db, body, status, code):
    response = APIClient().post("/api/v1/auth/logout/", body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_logout_refuses_an_access_token_in_place_of_the_refresh_token(owner, account):
    access = login(owner, account)["access"]
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": access}, format="json")
    assert response.status_code == 401


def test_password_change_ends_the_other_sessions_and_keeps_this_one(owner, account):
    other = login(owner, account)  # another device
    this = login(owner, account)
    response = bearer(this["access"]).post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    renewed = response.json()

    # The other device: its access token and its refresh token no longer work.
    refused = bearer(other["access"]).get("/api/v1/account/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "password_changed"
    assert refresh_with(other["refresh"]).status_code == 401
    # This device carries on with the pair it was given; its old pair is gone too.
    assert bearer(renewed["access"]).get("/api/v1/account/").status_code == 200
    assert refresh_with(renewed["refresh"]).status_code == 200
    assert refresh_with(this["refresh"]).status_code == 401
    # The new password logs in; the old does not.
    login(owner, account, password=NEW_PASSWORD)
    old = APIClient().post("/api/v1/auth/token/", {"username": owner.username, "password": PASSWORD}, format="json")
    assert old.status_code == 401


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"old_password": "wrong", "new_password": NEW_PASSWORD}, "wrong_password", "old_password"),
        ({"old_password": PASSWORD, "new_password": "short"}, "weak_password", "new_password"),
        ({"old_password": PASSWORD}, "validation_error", "new_password"),
    ],
)
def test_password_change_refusals_are_clear_and_change_nothing(api, owner, body, code, field):
    response = api.post("/api/v1/auth/password/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and field in error["details"]["fields"]
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert not BlacklistedToken.objects.exists()
    assert api.get("/api/v1/account/").status_code == 200


def test_password_change_needs_a_token(db):
    response = APIClient().post("/api/v1/auth/password/", {"old_password": "a", "new_password": "b"}, format="json")
    assert response.status_code == 401


def test_ws_ticket_needs_a_token_and_answers_a_ticket(api, db):
    assert APIClient().post("/api/v1/auth/ws-ticket/").status_code == 401
    body = api.post("/api/v1/auth/ws-ticket/").json()
    assert len(body["ticket"]) >= 32 and body["expires_in"] == 30


def test_the_schema_documents_the_auth_endpoints(db):
    schema = APIClient().get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in ("logout", "password", "ws-ticket"):
        assert "post" in paths[f"/api/v1/auth/{path}/"], path
    assert "429" in paths["/api/v1/auth/token/"]["post"]["responses"]
    assert "401" in paths["/api/v1/auth/token/refresh/"]["post"]["responses"]
    assert set(
        paths["/api/v1/auth/ws-ticket/"]["post"]["responses"]["200"]["content"]["application/json"]["schema"][
            "$ref"
        ].split("/")[-1:]
    ) == {"WsTicket"}
