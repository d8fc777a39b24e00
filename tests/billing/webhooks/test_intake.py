"""Intake (SPEC §3): verified, stored once, enqueued after commit, answered fast; refused deliveries leave
nothing behind."""

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from billing.models import StripeConnection, WebhookEvent
from billing.services.connection import connection_disconnect
from billing.stripe.client import StripeClient
from billing.webhooks.intake import Delivery, webhook_receive_batch
from core import errors
from core.secrets import Secret
from tests.helpers.stripe_signing import make_event, sign
from tests.helpers.webhooks import (
    ACCOUNT_SECRET,
    PLATFORM_SECRET,
    PLATFORM_URL,
    account_url,
    connect,
    post_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _platform_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET


def customer_event(**kwargs):
    return make_event("customer.created", {"id": "cus_A1", "object": "customer", "email": "a@example.com"}, **kwargs)


def test_a_signed_account_event_is_stored_once_and_enqueued_after_commit(connected, django_capture_on_commit_callbacks):
    event = customer_event(created=1_700_000_000)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_event(account_url(connected), event, ACCOUNT_SECRET)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "event_id": event["id"], "duplicate": False}
    row = WebhookEvent.objects.get()
    assert (row.stripe_event_id, row.type, row.relationship, row.account_id) == (
        event["id"],
        "customer.created",
        "account",
        connected.pk,
    )
    assert (row.object_id, row.object_type, row.created, row.api_version) == (
        "cus_A1",
        "customer",
        1_700_000_000,
        "2025-08-27.basil",
    )
    assert row.status == WebhookEvent.Status.PENDING and row.attempts == 0
    assert row.payload == event and row.next_attempt_at > row.received_at
    assert len(callbacks) == 1  # the processing task, published only once the insert committed


def test_a_duplicate_delivery_answers_2xx_and_does_nothing_more(connected, django_capture_on_commit_callbacks):
    event = customer_event()
    post_event(account_url(connected), event, ACCOUNT_SECRET)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_event(account_url(connected), event, ACCOUNT_SECRET)

    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert callbacks == []


def test_intake_never_calls_stripe(connected, monkeypatch):
    def no_stripe(*args, **kwargs):
        raise AssertionError("Stripe called before answering a webhook")

    monkeypatch.setattr(StripeClient, "request", no_stripe)
    assert post_event(account_url(connected), customer_event(), ACCOUNT_SECRET).status_code == 200


def _refused(response, code: str):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert WebhookEvent.objects.count() == 0
    return error["message"]


def test_a_bad_signature_is_refused_and_nothing_is_stored(connected):
    message = _refused(
        post_event(account_url(connected), customer_event(), "whsec_someone_else"),
        "webhook_signature_invalid",
    )
    assert "signature" in message.lower()


def test_a_stale_timestamp_is_refused(connected):
    stale = int(time.time()) - 301
    _refused(
        post_event(account_url(connected), customer_event(), ACCOUNT_SECRET, timestamp=stale),
        "webhook_signature_invalid",
    )


def test_a_timestamp_within_tolerance_is_accepted(connected):
    recent = int(time.time()) - 250
    assert post_event(account_url(connected), customer_event(), ACCOUNT_SECRET, timestamp=recent).status_code == 200


def test_a_missing_signature_is_refused(connected):
    response = APIClient().post(account_url(connected), data=b"{}", content_type="application/json")
    _refused(response, "webhook_signature_missing")


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b'{"id": "evt_1", "type": ',
        b'["a list"]',
        b'{"object": "event"}',
        "é".encode("latin-1"),
    ],
    ids=["text", "truncated", "not-an-object", "no-id-or-type", "not-utf8"],
)
def test_a_correctly_signed_body_that_is_not_an_event_is_refused(connected, body):
    response = APIClient().post(
        account_url(connected),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, ACCOUNT_SECRET),
    )
    _refused(response, "webhook_body_invalid")


def test_an_event_without_created_is_refused(connected):
    event = customer_event()
    del event["created"]
    _refused(post_event(account_url(connected), event, ACCOUNT_SECRET), "webhook_body_invalid")


@pytest.mark.parametrize("account_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "malformed"])
def test_an_unknown_account_is_refused(connected, account_id):
    response = post_event(f"/api/v1/billing/webhooks/stripe/{account_id}/", customer_event(), ACCOUNT_SECRET)
    _refused(response, "webhook_unknown_account")


def test_an_account_without_stripe_connection_is_refused(account):
    _refused(post_event(account_url(account), customer_event(), ACCOUNT_SECRET), "webhook_unknown_account")


def test_an_account_without_webhook_secret_is_refused(account):
    connect(account, webhook_secret=None)
    message = _refused(post_event(account_url(account), customer_event(), ACCOUNT_SECRET), "webhook_secret_missing")
    assert "signing secret" in message


def test_an_inactive_account_is_refused(connected):
    connected.is_active = False
    connected.save()
    _refused(post_event(account_url(connected), customer_event(), ACCOUNT_SECRET), "webhook_unknown_account")


# --- the platform endpoint and Connect routing--


def test_the_platform_endpoint_stores_a_platform_event():
    event = make_event("invoice.paid", {"id": "in_P1", "object": "invoice"})
    response = post_event(PLATFORM_URL, event, PLATFORM_SECRET)

    assert response.status_code == 200, response.content
    row = WebhookEvent.objects.get()
    assert (row.relationship, row.account_id, row.object_type) == ("platform", None, "invoice")


def test_each_endpoint_accepts_only_its_own_secret(connected):
    event = customer_event()
    _refused(post_event(PLATFORM_URL, event, ACCOUNT_SECRET), "webhook_signature_invalid")
    _refused(post_event(account_url(connected), event, PLATFORM_SECRET), "webhook_signature_invalid")


def test_the_same_event_id_is_stored_once_per_relationship(connected):
    event = customer_event()
    assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).json()["duplicate"] is False
    assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).json()["duplicate"] is True
    assert post_event(account_url(connected), event, ACCOUNT_SECRET).json()["duplicate"] is False
    assert sorted(WebhookEvent.objects.values_list("relationship", flat=True)) == ["account", "platform"]


def test_a_connect_event_on_the_platform_endpoint_becomes_the_connected_accounts_event(account):
    connect(account, stripe_user_id="acct_CONNECTED1")
    event = customer_event(account="acct_CONNECTED1")
    assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).status_code == 200

    row = WebhookEvent.objects.get()
    assert (row.relationship, row.account_id) == ("account", account.pk)
    # Delivered again (Stripe retries): still one row.
    assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1


def test_a_connect_event_matches_the_connections_stripe_account_id_too(account):
    connect(account, stripe_account_id="acct_OWNKEY")
    assert post_event(PLATFORM_URL, customer_event(account="acct_OWNKEY"), PLATFORM_SECRET).status_code == 200
    assert WebhookEvent.objects.get().account_id == account.pk


def test_a_connect_event_for_an_account_nobody_connected_is_refused(connected):
    message = _refused(
        post_event(PLATFORM_URL, customer_event(account="acct_NOBODY"), PLATFORM_SECRET),
        "webhook_unknown_connected_account",
    )
    assert "acct_NOBODY" in message


def test_webhook_endpoints_need_no_jwt_in_the_openapi_schema():
    schema = APIClient().get("/api/schema/?format=json").json()
    assert "security" not in schema  # no global requirement an operation could inherit
    for path in ("/api/v1/billing/webhooks/stripe/", "/api/v1/billing/webhooks/stripe/{account_id}/"):
        operation = schema["paths"][path]["post"]
        assert not operation.get("security")  # like the token endpoint: no JWT
        assert any(p["name"] == "Stripe-Signature" for p in operation["parameters"])


# --- batches (the ASGI intake hands the service every delivery that arrived together) -----------------------


def delivery(event: dict, secret: str, account=None) -> Delivery:
    body = json.dumps(event).encode()
    return Delivery(payload=body, signature=sign(body, secret), account_id=str(account.pk) if account else None)


def test_a_batch_answers_each_delivery_in_order_and_stores_repeats_once(connected, django_capture_on_commit_callbacks):
    events = [customer_event() for _ in range(25)]
    batch = [delivery(e, ACCOUNT_SECRET, connected) for e in events]
    batch.insert(3, delivery(events[0], ACCOUNT_SECRET, connected))  # a re-delivery inside the batch
    batch.insert(5, delivery(customer_event(), "whsec_wrong", connected))
    batch.append(delivery(events[1], PLATFORM_SECRET))  # same event id, the platform's relationship

    with django_capture_on_commit_callbacks() as callbacks:
        results = webhook_receive_batch(deliveries=batch)

    assert len(results) == len(batch)
    assert isinstance(results[5], errors.InvalidInput) and results[5].code == "webhook_signature_invalid"
    assert (results[0].duplicate, results[3].duplicate) == (False, True)
    assert results[3].stripe_event_id == events[0]["id"]
    assert not results[-1].duplicate
    assert WebhookEvent.objects.filter(relationship="account").count() == 25
    assert WebhookEvent.objects.filter(relationship="platform").count() == 1
    assert len(callbacks) == 1  # one wake-up for the batch (billing/webhooks/doorbell.py)


def test_a_batch_already_partly_stored_stores_only_the_rest(connected):
    events = [customer_event() for _ in range(4)]
    webhook_receive_batch(deliveries=[delivery(e, ACCOUNT_SECRET, connected) for e in events[:2]])

    results = webhook_receive_batch(deliveries=[delivery(e, ACCOUNT_SECRET, connected) for e in events])

    assert [r.duplicate for r in results] == [True, True, False, False]
    assert WebhookEvent.objects.count() == 4


def _refused_leaving_the_rest(response, code: str) -> None:
    before = WebhookEvent.objects.count()
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert WebhookEvent.objects.count() == before


def test_a_secret_rotated_in_another_process_is_read_again_when_a_signature_fails(connected):
    assert post_event(account_url(connected), customer_event(), ACCOUNT_SECRET).status_code == 200  # now kept
    # Another process changes the secret: this one is not told.
    connection = StripeConnection.objects.get(account=connected)
    connection.webhook_secret = Secret("whsec_rotated")
    connection.save()

    assert post_event(account_url(connected), customer_event(), "whsec_rotated").status_code == 200
    _refused_leaving_the_rest(
        post_event(account_url(connected), customer_event(), ACCOUNT_SECRET), "webhook_signature_invalid"
    )


def test_a_kept_secret_expires(connected, settings):
    settings.WEBHOOK_SECRET_CACHE_SECONDS = 0
    assert post_event(account_url(connected), customer_event(), ACCOUNT_SECRET).status_code == 200
    connected.is_active = False
    connected.save()

    _refused_leaving_the_rest(
        post_event(account_url(connected), customer_event(), ACCOUNT_SECRET), "webhook_unknown_account"
    )


def test_disconnecting_here_stops_the_kept_secret_at_once(connected, django_capture_on_commit_callbacks):
    assert post_event(account_url(connected), customer_event(), ACCOUNT_SECRET).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        connection_disconnect(account=connected)

    _refused_leaving_the_rest(
        post_event(account_url(connected), customer_event(), ACCOUNT_SECRET), "webhook_secret_missing"
    )


def test_a_broker_outage_still_acknowledges_the_stored_event_for_the_sweeper(
    connected, django_capture_on_commit_callbacks, caplog
):
    """The event is committed before the broker is asked: if the publish fails (here a real Redis address with
    nothing listening), the delivery is still acknowledged and the event waits, pending, for the sweeper."""

    from billing_project.celery import app as celery_app

    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.task_publish_retry, conf.broker_connection_max_retries)
    conf.broker_url, conf.task_always_eager = "redis://127.0.0.1:1/0", False
    conf.task_publish_retry, conf.broker_connection_max_retries = False, 0
    celery_app._pool = celery_app.amqp._producer_pool = None  # pools are made for the broker in use
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(account_url(connected), customer_event(), ACCOUNT_SECRET)
    finally:
        conf.broker_url, conf.task_always_eager, conf.task_publish_retry, conf.broker_connection_max_retries = saved
        celery_app._pool = celery_app.amqp._producer_pool = None

    assert response.status_code == 200
    assert any("doorbell: Redis unavailable" in r.getMessage() for r in caplog.records)  # nothing published
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.PENDING and row.next_attempt_at is not None
