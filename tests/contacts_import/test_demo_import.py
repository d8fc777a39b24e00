"""What the development stack offers a user (scripts/dev's banner): the demo account, seeded by
`localdev.seed_demo`, imports its local Stripe's customers through the API (tasks run in place here; the stack's
worker consumes the `imports` queue)."""

import pytest
from rest_framework.test import APIClient

from contacts_import.models import Contact
from localdev import demo, demo_data
from localdev.seed_demo import seed_demo

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_account_imports_its_stripe_customers_from_the_api(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    seed_demo(out=lambda line: None)
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": demo_data.DEMO_USERNAME, "password": demo_data.DEMO_PASSWORD}, format="json"
    ).json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    created = client.post(
        "/api/v1/contacts/imports/",
        {"type": "person", "new_contact": True, "mappings": {"name": "name", "phone": "phone", "address": "address"}},
        format="json",
    )

    assert created.status_code == 201, created.content
    job = client.get(f"/api/v1/contacts/imports/{created.json()['id']}/").json()
    assert (job["status"], job["processed"], job["added"], job["errors"]) == (
        "completed",
        demo.CUSTOMERS,
        demo.CUSTOMERS,
        0,
    )
    contacts = client.get("/api/v1/contacts/", {"source": "stripe", "page_size": 500}).json()["results"]
    assert len(contacts) == demo.CUSTOMERS == Contact.objects.count()
    assert all(c["stripe_customer_id"].startswith("cus_") and c["first_name"] for c in contacts)
