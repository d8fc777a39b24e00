import logging
import pickle

import pytest
from django.db import connection

from billing.models import StripeConnection
from core.secrets import Secret

pytestmark = pytest.mark.django_db

KEY = "sk_test_51SecretValueThatMustNeverLeak0000"


@pytest.fixture
def stored(account):
    return StripeConnection.objects.create(
        account=account, auth_mode="secret_key", secret_key=KEY, webhook_secret="whsec_never_shown_123"
    )


def test_secret_is_encrypted_at_rest(stored):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM billing_stripeconnection WHERE id = %s", [stored.pk])
        raw_key, raw_webhook = cursor.fetchone()
    assert KEY not in raw_key and "whsec_never_shown" not in raw_webhook
    reloaded = StripeConnection.objects.get(pk=stored.pk)
    assert reloaded.secret_key.reveal() == KEY
    assert reloaded.webhook_secret.reveal() == "whsec_never_shown_123"


def test_secret_never_shows_in_repr_str_or_pickle(stored):
    reloaded = StripeConnection.objects.get(pk=stored.pk)
    assert KEY not in repr(reloaded.secret_key)
    assert KEY not in f"{reloaded.secret_key}"
    assert KEY not in repr(reloaded.__dict__)
    with pytest.raises(TypeError):
        pickle.dumps(Secret(KEY))


def test_secret_never_in_logs_when_used(stored, caplog, settings):
    from billing.stripe.client import StripeClient

    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: the call fails and logs
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    caplog.set_level(logging.DEBUG)
    client = StripeClient.for_connection(StripeConnection.objects.get(pk=stored.pk))
    with pytest.raises(Exception):  # noqa: B017 - the error type is tested in test_stripe_client
        client.retrieve_account()
    logging.getLogger("test").info("client=%r", client)
    assert caplog.records
    assert KEY not in caplog.text


def test_admin_change_page_never_shows_the_secret(stored, admin_client):
    page = admin_client.get(f"/admin/billing/stripeconnection/{stored.pk}/change/")
    assert page.status_code == 200
    assert KEY not in page.content.decode()
    assert "whsec_never_shown" not in page.content.decode()
