"""End to end: the SPA's websocket open, imports started through the API, run by a real Celery worker from Redis
(the `imports` queue) against the local Stripe; progress and completion arrive on the socket."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from rest_framework.test import APIClient

from contacts_import.models import Contact
from tests.conftest import token_for
from tests.contacts_import.conftest import seed_customers
from tests.helpers.celery_worker import celery_worker
from tests.helpers.ws import receive_events, websocket

pytestmark = pytest.mark.django_db(transaction=True)

IMPORTS = "/api/v1/contacts/imports/"


def test_person_and_business_imports_followed_live_on_the_websocket(
    live, stripe, owner, redis_channel_layer, redis_url
):
    customers = seed_customers(stripe, 150)
    acme = [stripe.post("/v1/customers", email=f"{n}@acme.com", name="Acme") for n in "ab"]
    ada = next(c for c in customers if c["email"] == "customer3@example.com")
    existing = Contact.objects.create(account=live, type="person", email=ada["email"], phone="000")
    company = Contact.objects.create(account=live, type="business", email="sales@acme.com")
    token = token_for(owner, live)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def start(body):
        response = api.post(IMPORTS, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    async def follow():
        async with websocket(token) as (ws, connected, _):
            assert connected
            business = await sync_to_async(start)(
                {"type": "business", "new_contact": True, "mappings": {"name": "business_name"}}
            )
            business_events = await receive_events(ws, until="contact_import_completed", timeout=60)
            person = await sync_to_async(start)(
                {"type": "person", "new_contact": True, "mappings": {"name": "name", "phone": "phone"}}
            )
            person_events = await receive_events(ws, until="contact_import_completed", timeout=60)
        return business, business_events, person, person_events

    # The worker is started from this (synchronous) thread; the socket lives on an event loop of its own.
    with celery_worker(redis_url, queues=["imports"]):
        business, business_events, person, person_events = async_to_sync(follow)()

    # Business first. acme.com: the existing company, matched by its domain and linked to the first of its two
    # customers (the other skipped, never a second company); example.com: one new company for 150 addresses.
    done = business_events[-1]["data"]
    assert [e["event"] for e in business_events].count("contact_import_progress") == 2
    assert (done["id"], done["status"]) == (business["id"], "completed")
    assert (done["added"], done["updated"], done["skipped"], done["errors"]) == (1, 1, 150, 0)
    company.refresh_from_db()
    assert company.business_name == "Acme" and company.stripe_customer_id in {c["id"] for c in acme}
    assert company.email == "sales@acme.com" and company.old_field_values == {
        "business_name": "",
        "stripe_customer_id": "",
    }
    assert Contact.objects.filter(account=live, type="business").count() == 2

    # Then persons: a Stripe customer is one contact, so the two linked to companies are skipped.
    progress = [e["data"] for e in person_events if e["event"] == "contact_import_progress"]
    assert [(p["id"], p["pages"], p["processed"]) for p in progress] == [(person["id"], 1, 100), (person["id"], 2, 152)]
    done = person_events[-1]["data"]
    assert (done["id"], done["status"]) == (person["id"], "completed")
    assert (done["processed"], done["added"], done["updated"], done["skipped"], done["errors"]) == (152, 149, 1, 2, 0)
    body = api.get(f"{IMPORTS}{person['id']}/").json()
    assert (body["status"], body["added"], body["updated"], body["skipped"], body["errors"]) == (
        "completed",
        149,
        1,
        2,
        0,
    )
    assert all("is linked to business contact" in s["reason"] for s in body["skipped_details"])

    existing.refresh_from_db()
    assert (existing.phone, existing.first_name, existing.stripe_customer_id) == ("+15550000003", "First3", ada["id"])
    assert existing.old_field_values == {"phone": "000", "first_name": "", "last_name": "", "stripe_customer_id": ""}


def test_a_stripe_500_mid_import_is_retried_by_a_real_worker(
    live, stripe, owner, stripe_server, redis_url, monkeypatch
):
    """The retry goes through the broker (the task's retry with the backoff's countdown; 0 s here), and the job
    goes on from its saved cursor."""
    from contacts_import.models import ImportJob
    from contacts_import.services import run as run_module
    from tests.helpers.polling import wait_until

    seed_customers(stripe, 250)
    real_page_write = run_module.page_write
    retried = []

    def page_write_then_fail(**kwargs):
        job = real_page_write(**kwargs)
        if job.pages == 1:
            stripe_server.fail_next("/v1/customers", 500, count=2, method="GET")
        return job

    monkeypatch.setattr(run_module, "page_write", page_write_then_fail)
    real_retry_later = run_module._retry_later
    monkeypatch.setattr(run_module, "_retry_later", lambda *a: retried.append(a[0].cursor) or real_retry_later(*a))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner, live)}")

    with celery_worker(redis_url, queues=["imports"]):
        response = api.post(IMPORTS, {"type": "person", "new_contact": True}, format="json")
        job = wait_until(
            lambda: ImportJob.objects.filter(pk=response.json()["id"], status="completed").first(),
            message="the import to complete",
        )

    assert (job.processed, job.added, job.pages, job.attempts) == (250, 250, 3, 0)
    assert len(retried) == 2 and retried[0] == retried[1] != ""  # both retries from the cursor after page 1
    assert Contact.objects.filter(account=live).count() == 250
