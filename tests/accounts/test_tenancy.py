import pytest

from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_current_account_is_the_token_account(api, account):
    body = api.get("/api/v1/account/").json()
    assert body["id"] == str(account.id)
    assert body["name"] == account.name


def test_account_a_cannot_see_account_b_rows(api, account):
    other = AccountFactory()
    theirs = MembershipFactory(account=other)
    mine = MembershipFactory(account=account)

    listed = api.get("/api/v1/account/members/").json()["results"]
    ids = {row["id"] for row in listed}
    assert mine.id in ids
    assert theirs.id not in ids
    assert len(listed) == 2  # the owner and `mine`

    # Another account's object is a 404, never a 403 that confirms it exists.
    response = api.get(f"/api/v1/account/members/{theirs.id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get(f"/api/v1/account/members/{mine.id}/").status_code == 200
