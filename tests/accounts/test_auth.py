import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def obtain(username, password=PASSWORD, account_id=None):
    body = {"username": username, "password": password}
    if account_id:
        body["account_id"] = str(account_id)
    return APIClient().post("/api/v1/auth/token/", body, format="json")


def test_obtain_token_carries_the_account(owner, account):
    response = obtain(owner.username, account_id=account.id)
    assert response.status_code == 200
    access = AccessToken(response.json()["access"])
    assert access["account_id"] == str(account.id)
    assert access["user_id"] == str(owner.id)


def test_without_account_id_the_first_membership_is_used(owner, account):
    later = AccountFactory()
    MembershipFactory(user=owner, account=later)
    response = obtain(owner.username)
    assert AccessToken(response.json()["access"])["account_id"] == str(account.id)


def test_refresh_gives_a_new_access_token_for_the_same_account(owner, account):
    refresh = obtain(owner.username, account_id=account.id).json()["refresh"]
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert AccessToken(response.json()["access"])["account_id"] == str(account.id)


def test_refresh_is_refused_once_the_membership_is_gone(owner, account):
    refresh = obtain(owner.username, account_id=account.id).json()["refresh"]
    Membership.objects.filter(user=owner, account=account).delete()
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"


def test_wrong_password_is_401_with_the_error_shape(owner):
    response = obtain(owner.username, password="nope")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "no_active_account"
    assert error["message"]


def test_token_for_an_account_the_user_does_not_belong_to_is_refused(owner):
    foreign = AccountFactory()
    response = obtain(owner.username, account_id=foreign.id)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"


def test_user_without_any_account_gets_a_clear_403(user):
    response = obtain(user.username)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "no_account"


def test_malformed_account_id_is_a_validation_error(owner):
    response = obtain(owner.username, account_id="not-a-uuid")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "account_id" in response.json()["error"]["details"]["fields"]


def test_api_without_token_is_401(db):
    response = APIClient().get("/api/v1/account/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_of_a_removed_member_no_longer_opens_the_api(api, owner, account):
    assert api.get("/api/v1/account/").status_code == 200
    Membership.objects.filter(user=owner, account=account).delete()
    assert api.get("/api/v1/account/").status_code == 403


def test_a_deactivated_account_closes_the_api_and_its_tokens(api, owner, account):
    """The one membership check (accounts/selectors.py) refuses a deactivated account everywhere: the API
    permission, a new token, a refresh (the websocket: tests/accounts/test_websocket.py)."""
    refresh = obtain(owner.username, account_id=account.id).json()["refresh"]
    account.is_active = False
    account.save()
    assert api.get("/api/v1/account/").status_code == 403
    assert obtain(owner.username, account_id=account.id).json()["error"]["code"] == "not_a_member"
    refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert refreshed.status_code == 403 and refreshed.json()["error"]["code"] == "not_a_member"
