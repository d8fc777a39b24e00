"""One tenant can never disturb another's webhooks (issue 10, item 1).

A connected account owns its signing secret, so it can sign any body it likes. Each poison below arrives in the
same batch as good deliveries of another account, of the platform and of the poisoner itself: the poison is
answered 400 with a stable code and stores nothing; every good delivery is answered 200 and processed. Through
the ASGI intake (one batch, asserted), the DRF views, and the service both call; on SQLite and on PostgreSQL
(DATABASE_URL). Before this, any of them made the whole batch 503 (ASGI) or the delivery 500 (DRF)."""

import asyncio
import codecs
import json
import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing.api.webhook_asgi import WebhookIntakeApp
from billing.models import Customer, WebhookEvent
from billing.webhooks.intake import Delivery, webhook_receive_batch
from core import errors
from tests.billing.webhooks.test_asgi import RecordingBatcher, call
from tests.factories import AccountFactory
from tests.helpers.stripe_signing import make_event, sign
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, PLATFORM_URL, account_url, connect

# The batcher's thread writes through its own connection, and processing runs after commit: real commits.
pytestmark = pytest.mark.django_db(transaction=True)

OTHER_SECRET = "whsec_other_tenant_secret"


@pytest.fixture(autouse=True)
def _platform_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET


@pytest.fixture
def intake_log(caplog):
    """Intake's log lines (the project's loggers do not propagate to the root, where caplog listens)."""
    logger = logging.getLogger("billing.webhooks.intake")
    # An earlier test that configures logging again (a Celery worker in-process) may have disabled it.
    disabled, logger.disabled = logger.disabled, False
    caplog.set_level(logging.INFO, logger=logger.name)
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.disabled = disabled


@pytest.fixture
def other():
    """Another tenant, with its own connection and signing secret."""
    account = AccountFactory()
    connect(account, webhook_secret=OTHER_SECRET)
    return account


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def poison(kind: str) -> tuple[bytes, str]:
    """A body the poisoner signs with its own secret, and the `reason` its 400 must carry."""
    event = make_event("customer.updated", {"id": "cus_POISON", "object": "customer"}, event_id=f"evt_poison_{kind}")
    obj = event["data"]["object"]
    reason = {
        "data_is_a_string": "data_object",
        "data_object_is_a_string": "data_object",
        "created_overflows": "created",
        "created_is_a_float": "created",
        "nested_100_deep": "too_deep",
        "nested_100000_deep": "too_deep",
        "nan": "non_finite_number",
        "infinity": "non_finite_number",
        "nul_in_a_value": "nul",
        "nul_in_a_key": "nul",
        "nul_in_the_id": "nul",
        "bom": "bom",
        "unpaired_surrogate": "unpaired_surrogate",
        "id_is_a_number": "id",
        "id_too_long": "id",
        "type_is_a_list": "type",
        "account_is_an_object": "account",
    }[kind]
    if kind == "data_is_a_string":
        event["data"] = "x"
    elif kind == "data_object_is_a_string":
        event["data"]["object"] = "x"
    elif kind == "created_overflows":
        event["created"] = 10**20
    elif kind == "created_is_a_float":
        event["created"] = 1.7e9
    elif kind == "nested_100_deep":
        obj["metadata"] = {"deep": _nested(100)}
    elif kind == "nan":
        obj["balance"] = float("nan")
    elif kind == "infinity":
        obj["balance"] = float("-inf")
    elif kind == "nul_in_a_value":
        obj["name"] = "Ann\x00"
    elif kind == "nul_in_a_key":
        obj["metadata"] = {"k\x00": "v"}
    elif kind == "nul_in_the_id":
        event["id"] = "evt_poison\x00"
    elif kind == "unpaired_surrogate":
        obj["name"] = "\ud800"
    elif kind == "id_is_a_number":
        event["id"] = 12345
    elif kind == "id_too_long":
        event["id"] = "evt_" + "x" * 300
    elif kind == "type_is_a_list":
        event["type"] = ["customer.updated"]
    elif kind == "account_is_an_object":
        event["account"] = {"id": "acct_1"}
    body = json.dumps(event).encode()
    if kind == "nested_100000_deep":  # past the JSON parser's own recursion limit
        body = body.replace(
            b'"object": "customer"', b'"object": "customer", "deep": ' + b"[" * 100_000 + b"]" * 100_000
        )
    elif kind == "bom":
        body = codecs.BOM_UTF8 + body
    return body, reason


KINDS = [
    "data_is_a_string",
    "data_object_is_a_string",
    "created_overflows",
    "created_is_a_float",
    "nested_100_deep",
    "nested_100000_deep",
    "nan",
    "infinity",
    "nul_in_a_value",
    "nul_in_a_key",
    "nul_in_the_id",
    "bom",
    "unpaired_surrogate",
    "id_is_a_number",
    "id_too_long",
    "type_is_a_list",
    "account_is_an_object",
]


def customer_body(customer_id: str, event_id: str) -> bytes:
    return json.dumps(
        make_event("customer.updated", {"id": customer_id, "object": "customer"}, event_id=event_id)
    ).encode()


def mixed_batch(poisoner, other, poison_body: bytes) -> list[tuple[str, bytes, str]]:
    """(url, body, signature): the other tenant's event, the poison, the platform's event, the poisoner's own
    good event."""
    batch = [
        (account_url(other), customer_body("cus_OTHER", "evt_good_other"), OTHER_SECRET),
        (account_url(poisoner), poison_body, ACCOUNT_SECRET),
        (PLATFORM_URL, json.dumps(make_event("invoice.paid", {"id": "in_P", "object": "invoice"})).encode(), None),
        (account_url(poisoner), customer_body("cus_MINE", "evt_good_mine"), ACCOUNT_SECRET),
    ]
    return [(url, body, sign(body, secret or PLATFORM_SECRET)) for url, body, secret in batch]


def assert_good_ones_processed(poisoner, other) -> None:
    rows = {row.stripe_event_id: row for row in WebhookEvent.objects.all()}
    assert "evt_good_other" in rows and "evt_good_mine" in rows and len(rows) == 3  # nothing of the poison
    assert rows["evt_good_other"].account_id == other.pk and rows["evt_good_other"].status == "processed"
    assert rows["evt_good_mine"].account_id == poisoner.pk and rows["evt_good_mine"].status == "processed"
    (platform,) = (row for row in rows.values() if row.relationship == "platform")
    assert platform.status == "processed"  # plans' handler: an invoice of no subscription, nothing to do
    assert Customer.objects.filter(account=other, stripe_id="cus_OTHER").exists()
    assert Customer.objects.filter(account=poisoner, stripe_id="cus_MINE").exists()


def assert_refusal_logged(caplog, poisoner, body: bytes, code: str) -> None:
    lines = [r.getMessage() for r in caplog.records if r.name == "billing.webhooks.intake"]
    assert any(f"account={poisoner.pk}" in line and f"code={code}" in line for line in lines), lines
    text = "\n".join(lines)
    assert ACCOUNT_SECRET not in text and "cus_POISON" not in text and "evt_poison" not in text  # never the body


@pytest.mark.parametrize("kind", KINDS)
def test_a_poison_through_the_asgi_intake_is_refused_alone_in_its_batch(connected, other, kind, intake_log):
    from billing_project.asgi import django_asgi_app

    body, reason = poison(kind)
    batcher = RecordingBatcher()
    app = WebhookIntakeApp(django_asgi_app, batcher)
    batch = mixed_batch(connected, other, body)

    async def together():
        return await asyncio.gather(
            *(call(app, "POST", url, body, {"Stripe-Signature": signature}) for url, body, signature in batch)
        )

    try:
        answers = asyncio.run(together())
    finally:
        batcher.close()

    assert batcher.sizes == [4]  # one batch: the poison shared the insert with the others
    assert [status for status, _, _ in answers] == [200, 400, 200, 200], answers
    error = json.loads(answers[1][2])["error"]
    assert (error["code"], error["details"]) == ("webhook_body_invalid", {"reason": reason})
    assert_good_ones_processed(connected, other)
    assert_refusal_logged(intake_log, connected, body, "webhook_body_invalid")


@pytest.mark.parametrize("kind", KINDS)
def test_a_poison_through_the_drf_views_is_a_400_and_the_others_are_processed(connected, other, kind):
    body, reason = poison(kind)
    client = APIClient()
    answers = [
        client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
        for url, body, signature in mixed_batch(connected, other, body)
    ]

    assert [a.status_code for a in answers] == [200, 400, 200, 200], [a.content[:300] for a in answers]
    assert answers[1].json()["error"] == {
        "code": "webhook_body_invalid",
        "message": answers[1].json()["error"]["message"],
        "details": {"reason": reason},
    }
    assert_good_ones_processed(connected, other)


@pytest.mark.parametrize("kind", KINDS)
def test_a_poison_in_a_batch_given_to_the_service_is_refused_alone(connected, other, kind):
    """The service both paths call, with the whole batch at once (as the ASGI batcher gives it)."""
    body, reason = poison(kind)
    deliveries = [
        Delivery(payload=body, signature=signature, account_id=url.rstrip("/").rsplit("/", 1)[1] or None)
        if url != PLATFORM_URL
        else Delivery(payload=body, signature=signature)
        for url, body, signature in mixed_batch(connected, other, body)
    ]

    results = webhook_receive_batch(deliveries=deliveries)

    assert isinstance(results[1], errors.InvalidInput) and results[1].details == {"reason": reason}
    assert [r.duplicate for i, r in enumerate(results) if i != 1] == [False, False, False]
    assert_good_ones_processed(connected, other)


# --- what the envelope check lets through and the database still refuses: one delivery at a time ------------


@pytest.fixture
def database_refuses_some_events():
    """A trigger that refuses events whose id starts with `evt_refused_`: the database refusing a row that
    passed every check of ours (what the row-by-row fallback exists for). Dropped afterwards: transactional
    tests flush rows, not triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION intake_refuses() RETURNS trigger AS $$ BEGIN "
                "IF NEW.stripe_event_id LIKE 'evt_refused_%' THEN "
                "RAISE EXCEPTION 'refused by the database' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER intake_refuses BEFORE INSERT ON billing_webhookevent "
                "FOR EACH ROW EXECUTE FUNCTION intake_refuses()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER intake_refuses BEFORE INSERT ON billing_webhookevent "
                "WHEN NEW.stripe_event_id LIKE 'evt_refused_%' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
            )
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER intake_refuses ON billing_webhookevent")
            cursor.execute("DROP FUNCTION intake_refuses()")
        else:
            cursor.execute("DROP TRIGGER intake_refuses")


def test_a_row_the_database_refuses_is_refused_alone_through_asgi(
    connected, other, database_refuses_some_events, intake_log
):
    from billing_project.asgi import django_asgi_app

    refused = customer_body("cus_POISON", "evt_refused_1")
    batcher = RecordingBatcher()
    app = WebhookIntakeApp(django_asgi_app, batcher)
    batch = mixed_batch(connected, other, refused)

    async def together():
        return await asyncio.gather(
            *(call(app, "POST", url, body, {"Stripe-Signature": signature}) for url, body, signature in batch)
        )

    try:
        answers = asyncio.run(together())
    finally:
        batcher.close()

    assert batcher.sizes == [4]
    assert [status for status, _, _ in answers] == [200, 400, 200, 200], answers
    assert json.loads(answers[1][2])["error"]["code"] == "webhook_event_refused"
    assert_good_ones_processed(connected, other)
    assert_refusal_logged(intake_log, connected, refused, "webhook_event_refused")
    assert any("one by one" in r.getMessage() for r in intake_log.records)  # the batch insert did fail first


def test_a_row_the_database_refuses_is_a_400_through_the_drf_views(connected, other, database_refuses_some_events):
    client = APIClient()
    answers = [
        client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
        for url, body, signature in mixed_batch(connected, other, customer_body("cus_POISON", "evt_refused_2"))
    ]

    assert [a.status_code for a in answers] == [200, 400, 200, 200]
    assert answers[1].json()["error"]["code"] == "webhook_event_refused"
    assert_good_ones_processed(connected, other)


def test_a_number_jsonb_cannot_hold_is_refused_alone(connected, other):
    """`1e-20000` is JSON and Python reads it (as 0.0), but PostgreSQL's numeric cannot hold it: nothing of ours
    refuses it, the database does, for that delivery only. SQLite stores it (and so answers 200)."""
    from billing_project.asgi import django_asgi_app

    body = customer_body("cus_POISON", "evt_tiny").replace(
        b'"object": "customer"', b'"object": "customer", "x": 1e-20000'
    )
    batcher = RecordingBatcher()
    app = WebhookIntakeApp(django_asgi_app, batcher)
    batch = mixed_batch(connected, other, body)

    async def together():
        return await asyncio.gather(
            *(call(app, "POST", url, body, {"Stripe-Signature": signature}) for url, body, signature in batch)
        )

    try:
        answers = asyncio.run(together())
    finally:
        batcher.close()

    assert batcher.sizes == [4]
    if connection.vendor == "postgresql":
        assert [status for status, _, _ in answers] == [200, 400, 200, 200], answers
        assert json.loads(answers[1][2])["error"]["code"] == "webhook_event_refused"
        assert_good_ones_processed(connected, other)
    else:
        assert [status for status, _, _ in answers] == [200, 200, 200, 200], answers
