"""The connection's either/or credentials, as the schema says them (issue 10, item 7): a `oneOf` of a secret key or
Connect OAuth tokens, nothing else; the code refuses what the schema refuses."""

import pytest

from billing.models import StripeConnection
from tests.harness.stripe_fixtures import TEST_SECRET_KEY

URL = "/api/v1/billing/stripe-connection/"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"secret_key": TEST_SECRET_KEY, "webhooks_secret": "whsec_typo"},  # a misspelt field is not ignored
        {"secret_key": TEST_SECRET_KEY, "access_token": TEST_SECRET_KEY},
        {"secret_key": TEST_SECRET_KEY + "é"},
        {"secret_key": "\u2003" + TEST_SECRET_KEY},  # a blank Python strips but the schema does not allow
        {"access_token": TEST_SECRET_KEY, "stripe_user_id": "acct_1 2"},
    ],
)
@pytest.mark.django_db
def test_what_the_schema_refuses_is_a_400_and_nothing_is_stored(api, account, stripe_api_base, body):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error"}
    assert not StripeConnection.objects.filter(account=account).exists()


@pytest.mark.django_db
def test_blanks_around_a_pasted_key_are_forgiven(api, account, stripe_api_base):
    response = api.post(URL, {"secret_key": f" {TEST_SECRET_KEY}\n", "webhook_secret": "whsec_abc= "}, format="json")
    assert response.status_code == 201, response.content
    assert StripeConnection.objects.get(account=account).secret_key.reveal() == TEST_SECRET_KEY


@pytest.mark.django_db
def test_the_schema_says_either_or(client):
    schema = client.get("/api/schema/?format=json").json()
    body = schema["paths"][URL]["post"]["requestBody"]
    assert body["required"] is True
    variants = body["content"]["application/json"]["schema"]["oneOf"]
    assert [sorted(v["required"]) for v in variants] == [["secret_key"], ["access_token", "stripe_user_id"]]
    assert all(v["additionalProperties"] is False for v in variants)
