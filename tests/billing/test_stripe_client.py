"""The Stripe client against the local Stripe over HTTP, with faults injected by the harness."""

import pytest

from billing.models import StripeConnection
from billing.stripe.client import StripeClient
from core import errors

KEY = "sk_test_client_tests_key_0001"


@pytest.fixture
def client(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    return StripeClient.for_credentials(secret_key=KEY)


def test_create_list_retrieve_answer_plain_dicts(client):
    created = client.create("/v1/customers", email="a@example.com", name="A", idempotency_key="cust-a")
    again = client.create("/v1/customers", email="a@example.com", name="A", idempotency_key="cust-a")
    assert isinstance(created, dict) and created["email"] == "a@example.com"
    assert again["id"] == created["id"]  # the idempotency key reached Stripe
    assert client.retrieve("/v1/customers", created["id"])["id"] == created["id"]
    page, has_more = client.list_page("/v1/customers", limit=10)
    assert [c["id"] for c in page] == [created["id"]] and has_more is False


def test_iterate_streams_every_page(client):
    ids = {client.create("/v1/customers", email=f"c{n}@example.com")["id"] for n in range(7)}
    assert {c["id"] for c in client.iterate("/v1/customers", page_size=3)} == ids


def test_rejected_request_is_422_with_stripe_detail(client):
    with pytest.raises(errors.StripeRejected) as caught:
        client.retrieve("/v1/customers", "cus_does_not_exist")
    assert caught.value.status == 422
    assert "Stripe rejected the request" in caught.value.message


def test_rate_limit_is_translated_with_retry_after(client, stripe_server):
    stripe_server.fail_next("/v1/customers", 429, count=5, retry_after=7)
    with pytest.raises(errors.StripeRateLimited) as caught:
        client.list_page("/v1/customers")
    assert caught.value.status == 502
    assert caught.value.retry_after == 7


def test_a_passing_5xx_is_retried_by_the_sdk(client, stripe_server):
    stripe_server.fail_next("/v1/customers", 500, count=2)
    page, _ = client.list_page("/v1/customers")
    assert page == []


def test_persistent_5xx_is_502(client, stripe_server):
    stripe_server.fail_next("/v1/customers", 503, count=10)
    with pytest.raises(errors.StripeUnavailable) as caught:
        client.list_page("/v1/customers")
    assert caught.value.status == 502 and caught.value.code == "stripe_unavailable"


def test_timeout_is_502(stripe_api_base, stripe_server, settings):
    settings.STRIPE_TIMEOUT_SECONDS = 1
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_server.hang_next("/v1/customers", count=1, seconds=5)
    with pytest.raises(errors.StripeUnavailable):
        StripeClient.for_credentials(secret_key=KEY).list_page("/v1/customers")


def test_unreachable_stripe_is_502(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    with pytest.raises(errors.StripeUnavailable):
        StripeClient.for_credentials(secret_key=KEY).list_page("/v1/customers")


def test_revoked_key_is_an_auth_error(client, stripe_server):
    stripe_server.revoke_key(KEY)
    with pytest.raises(errors.StripeAuthFailed) as caught:
        client.retrieve_account()
    assert caught.value.code == "stripe_auth_failed"


@pytest.mark.django_db
def test_connection_client_uses_the_stored_key(stripe_api_base, account):
    connection = StripeConnection.objects.create(account=account, auth_mode="secret_key", secret_key=KEY)
    assert StripeClient.for_connection(connection).retrieve_account()["object"] == "account"
    connection.status = StripeConnection.Status.DISCONNECTED
    with pytest.raises(errors.NoStripeConnection) as caught:
        StripeClient.for_connection(connection)
    assert caught.value.status == 409


def test_connect_client_is_isolated_by_stripe_account(stripe_api_base):
    mine = StripeClient(api_key=KEY, stripe_account="acct_mine")
    theirs = StripeClient(api_key=KEY, stripe_account="acct_theirs")
    created = mine.create("/v1/customers", email="mine@example.com")
    assert [c["id"] for c in mine.list_page("/v1/customers")[0]] == [created["id"]]
    assert theirs.list_page("/v1/customers")[0] == []
    with pytest.raises(errors.StripeRejected):
        theirs.retrieve("/v1/customers", created["id"])


def test_client_repr_never_shows_the_key():
    assert KEY not in repr(StripeClient.for_credentials(secret_key=KEY))
