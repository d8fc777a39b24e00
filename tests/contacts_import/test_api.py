"""The contacts and imports API: the mapping validated before anything is stored or queued, roles, another
account's job a 404, contact lists and filters, the beat's schedule, and billing's contact link refusing a contact
that is not in the account."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django_celery_beat.models import PeriodicTask

from billing.models import Customer
from billing_project.celery import app as celery_app
from contacts_import.models import Contact, ImportJob
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)

IMPORTS = "/api/v1/contacts/imports/"
CONTACTS = "/api/v1/contacts/"


@pytest.fixture
def sent(monkeypatch):
    """The import runs queued (by name, after commit), instead of running them."""
    queued = []
    monkeypatch.setattr("contacts_import.services.jobs.enqueue_on_commit", lambda name, *a, **k: queued.append(a))
    return queued


def test_an_unknown_stripe_or_contact_field_is_a_400_naming_it_and_nothing_is_queued(api, account, sent):
    response = api.post(
        IMPORTS,
        {"type": "person", "new_contact": True, "mappings": {"address-town": "address.city", "phone": "mobile"}},
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_mapping"
    problems = " ".join(error["details"]["fields"]["mappings"])
    assert "address-town" in problems and "'mobile'" in problems
    assert not ImportJob.objects.exists() and sent == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "company", "new_contact": True}, "type"),
        ({"type": "person"}, "new_contact"),
        ({"type": "person", "new_contact": True, "limit": 0}, "limit"),
        ({"type": "person", "new_contact": True, "limit": "5"}, "limit"),
        ({"type": "person", "new_contact": 0}, "new_contact"),
        ({"type": "person", "new_contact": "yes"}, "new_contact"),
        ({"type": "person", "new_contact": True, "mappings": ["email"]}, "mappings"),
        ({"type": "person", "new_contact": True, "source": "stripe"}, "source"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(api, account, sent, body, field):
    response = api.post(IMPORTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert not ImportJob.objects.exists()


def test_a_job_is_created_pending_with_its_normalised_mapping_and_queued_once(api, account, owner, sent):
    response = api.post(
        IMPORTS,
        {"type": "business", "new_contact": False, "limit": 10, "mappings": {"address-city": "address-city"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["type"], body["new_contact"], body["limit"]) == ("pending", "business", False, 10)
    assert body["mappings"] == {"address.city": "address.city"}
    assert (body["added"], body["updated"], body["skipped"], body["errors"], body["error_details"]) == (0, 0, 0, 0, [])
    assert sent == [(body["id"],)]
    assert ImportJob.objects.get().created_by == owner


def test_members_read_but_only_owners_and_admins_start_or_cancel(member_api, account, sent):
    job = ImportJob.objects.create(account=account, type="person")
    assert member_api.post(IMPORTS, {"type": "person", "new_contact": True}, format="json").status_code == 403
    assert member_api.post(f"{IMPORTS}{job.pk}/cancel/").status_code == 403
    assert member_api.get(IMPORTS).json()["results"][0]["id"] == job.pk
    assert member_api.get(f"{IMPORTS}{job.pk}/").json()["status"] == "pending"


def test_another_accounts_job_and_contact_are_404s(api, account):
    other = AccountFactory()
    job = ImportJob.objects.create(account=other, type="person")
    contact = Contact.objects.create(account=other, type="person", email="x@y.com")
    assert api.get(f"{IMPORTS}{job.pk}/").status_code == 404
    assert api.post(f"{IMPORTS}{job.pk}/cancel/").status_code == 404
    assert api.get(f"{CONTACTS}{contact.pk}/").status_code == 404
    assert api.get(IMPORTS).json()["results"] == [] and api.get(CONTACTS).json()["results"] == []


def test_contacts_list_and_filter(api, account):
    ada = Contact.objects.create(
        account=account,
        type="person",
        email="ADA@example.com",
        source="stripe",
        stripe_customer_id="cus_1",
        address_city="London",
    )
    Contact.objects.create(account=account, type="business", email="info@acme.com")

    everything = api.get(CONTACTS).json()["results"]
    assert [c["email"] for c in everything] == ["ada@example.com", "info@acme.com"]  # normalised on save
    assert everything[0]["address"]["city"] == "London" and everything[0]["shipping"]["city"] == ""
    assert [c["id"] for c in api.get(CONTACTS, {"type": "person"}).json()["results"]] == [ada.pk]
    assert [c["id"] for c in api.get(CONTACTS, {"email": "Ada@Example.com"}).json()["results"]] == [ada.pk]
    assert [c["id"] for c in api.get(CONTACTS, {"stripe_customer_id": "cus_1"}).json()["results"]] == [ada.pk]
    assert len(api.get(CONTACTS, {"source": "manual"}).json()["results"]) == 1
    assert api.get(CONTACTS, {"type": "robot"}).status_code == 400


def test_the_database_keeps_one_contact_per_type_and_email_and_per_stripe_customer(account):
    from django.db import IntegrityError, transaction

    Contact.objects.create(account=account, type="person", email="a@b.com", stripe_customer_id="cus_1")
    Contact.objects.create(account=account, type="business", email="a@b.com")  # another type: allowed
    Contact.objects.create(account=account, type="person", email="")  # no email: not unique
    Contact.objects.create(account=account, type="person", email="")
    for fields in ({"email": "A@B.com"}, {"email": "c@d.com", "stripe_customer_id": "cus_1"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Contact.objects.create(account=account, type="person", **fields)


def test_the_beat_runs_the_sweeper_every_30_seconds_on_the_imports_queue():
    # A transactional test empties the tables the migrations filled: run the data migration's function again.
    create_schedule = import_module("contacts_import.migrations.0002_import_schedule").Migration.operations[0].code
    create_schedule(django_apps, None)
    create_schedule(django_apps, None)  # idempotent
    row = PeriodicTask.objects.get(name="contacts_import: sweep import jobs")
    assert (row.task, row.interval.every, row.interval.period, row.enabled) == (
        "contacts_import.sweep_import_jobs",
        30,
        "seconds",
        True,
    )
    celery_app.loader.import_default_modules()
    for name in ("contacts_import.sweep_import_jobs", "contacts_import.run_import_job"):
        assert name in celery_app.tasks
        assert celery_app.amqp.router.route({}, name)["queue"].name == "imports"


def test_billing_refuses_to_link_a_customer_to_a_contact_outside_the_account(api, account):
    Customer.objects.create(account=account, stripe_id="cus_link", email="a@b.com")
    mine = Contact.objects.create(account=account, type="person", email="a@b.com")
    theirs = Contact.objects.create(account=AccountFactory(), type="person", email="a@b.com")
    url = "/api/v1/billing/customers/cus_link/contact/"

    refused = api.put(url, {"contact_id": str(theirs.pk)}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "contact_not_found"
    assert api.put(url, {"contact_id": str(mine.pk + 1000)}, format="json").status_code == 400
    assert api.put(url, {"contact_id": str(mine.pk)}, format="json").status_code == 200
