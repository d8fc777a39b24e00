"""Imports run against the local Stripe (tasks run in place): what each customer becomes, the counts, the seed's
bugs fixed (errors go on, a missing connection fails one job, Stripe failures are retried, a killed run resumes
from its cursor, cancellation and limits), and a constant number of queries per page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts_import.models import Contact, ImportJob
from contacts_import.services import run as run_module
from contacts_import.services.jobs import import_job_claim, import_jobs_sweep
from contacts_import.services.pages import page_write
from contacts_import.services.run import import_job_run
from tests.contacts_import.conftest import seed_customers
from tests.factories import AccountFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect

pytestmark = pytest.mark.django_db(transaction=True)

IMPORTS = "/api/v1/contacts/imports/"
MAPPINGS = {
    "name": "name",
    "phone": "phone",
    "address-line1": "address.street",
    "address-city": "address.city",
    "address.state": "address.state_province",
    "metadata-tier": "custom.tier",
}


def start(api, **body):
    response = api.post(IMPORTS, {"type": "person", "mappings": MAPPINGS, "new_contact": True, **body}, format="json")
    assert response.status_code == 201, response.content
    return api.get(f"{IMPORTS}{response.json()['id']}/").json()


def contacts_of(account):
    return {c.stripe_customer_id: c for c in Contact.objects.filter(account=account)}


def test_a_person_import_creates_and_updates_the_right_contacts(api, live, stripe, owner):
    customers = seed_customers(stripe, 120)  # two pages
    by_email = {c["email"]: c for c in customers}
    linked = Contact.objects.create(
        account=live,
        type="person",
        email="old@example.com",
        phone="111",
        stripe_customer_id=by_email["customer5@example.com"]["id"],
    )
    same_email = Contact.objects.create(
        account=live,
        type="person",
        email="Customer7@Example.com",
        first_name="Ada",
        custom_fields={"tier": "x", "k": 1},
    )
    business = Contact.objects.create(account=live, type="business", email="customer9@example.com")

    job = start(api)

    assert job["status"] == "completed", job
    assert (job["processed"], job["added"], job["updated"], job["skipped"], job["errors"]) == (120, 118, 2, 0, 0)
    assert job["pages"] == 2 and job["error_details"] == []
    contacts = contacts_of(live)
    assert Contact.objects.filter(account=live, type="person").count() == 120
    linked.refresh_from_db()
    assert (linked.email, linked.phone, linked.first_name, linked.last_name) == (
        "customer5@example.com",
        "+15550000005",
        "First5",
        "Last5",
    )
    assert linked.old_field_values == {
        "email": "old@example.com",
        "phone": "111",
        "first_name": "",
        "last_name": "",
        "address_street": "",
        "address_city": "",
        "address_state_province": "",
        "custom.tier": None,
    }
    same_email.refresh_from_db()
    assert same_email.stripe_customer_id == by_email["customer7@example.com"]["id"]
    assert same_email.custom_fields == {"tier": "t1", "k": 1} and same_email.first_name == "First7"
    assert (
        same_email.old_field_values["first_name"] == "Ada" and same_email.old_field_values["stripe_customer_id"] == ""
    )
    assert same_email.source == "manual"  # updated, not re-created
    # A business contact with the same email is another contact: the person import made its own.
    business.refresh_from_db()
    assert business.stripe_customer_id == "" and by_email["customer9@example.com"]["id"] in contacts
    new = contacts[by_email["customer42@example.com"]["id"]]
    assert (new.source, new.type, new.owner, new.created_by, new.old_field_values) == (
        "stripe",
        "person",
        owner,
        owner,
        {},
    )
    assert (new.address_street, new.address_city, new.address_state_province) == ("42 Main St", "Springfield", "IL")

    # Again: nothing new, every contact matched by its Stripe id and unchanged.
    again = start(api)
    assert (again["added"], again["updated"], again["skipped"], again["errors"]) == (0, 120, 0, 0)
    assert Contact.objects.filter(account=live).count() == 121
    linked.refresh_from_db()
    assert linked.old_field_values["phone"] == "111"  # what the last import that changed it overwrote


def test_a_business_import_matches_a_company_by_domain_but_never_by_free_mail(api, live, stripe):
    acme = [stripe.post("/v1/customers", email=f"{n}@acme.com", name="Acme Inc") for n in ("bob", "alice")]
    gmail = [stripe.post("/v1/customers", email=f"{n}@gmail.com", name=f"{n} Ltd") for n in ("x", "y")]
    carol = stripe.post("/v1/customers", email="carol@globex.com", name="Globex Corporation")
    globex = Contact.objects.create(account=live, type="business", email="info@globex.com", business_name="Globex")

    job = start(api, type="business", mappings={"name": "name"})

    assert (job["added"], job["updated"], job["skipped"], job["errors"]) == (3, 1, 1, 0), job
    assert Contact.objects.filter(account=live, email_domain="acme.com").count() == 1
    assert Contact.objects.filter(account=live, email_domain="gmail.com").count() == 2
    globex.refresh_from_db()
    assert (globex.email, globex.business_name, globex.stripe_customer_id) == (
        "info@globex.com",
        "Globex Corporation",
        carol["id"],  # the company's address stays
    )
    assert globex.old_field_values == {"business_name": "Globex", "stripe_customer_id": ""}
    [skipped] = job["skipped_details"]
    assert skipped["stripe_customer_id"] in {c["id"] for c in acme} and "already linked" in skipped["reason"]
    assert {c["id"] for c in gmail} <= set(contacts_of(live))


def test_new_contact_false_only_updates(api, live, stripe):
    customers = seed_customers(stripe, 5)
    existing = Contact.objects.create(account=live, type="person", email=customers[2]["email"])

    job = start(api, new_contact=False)

    assert (job["status"], job["added"], job["updated"], job["skipped"], job["errors"]) == ("completed", 0, 1, 4, 0)
    assert list(Contact.objects.filter(account=live)) == [existing]
    assert all("new_contact is false" in s["reason"] for s in job["skipped_details"])


def test_a_bad_customer_is_recorded_and_the_import_goes_on(api, live, stripe):
    seed_customers(stripe, 3)
    no_email = stripe.post("/v1/customers", name="Nobody")
    bad_country = stripe.post("/v1/customers", email="far@away.com", address={"line1": "x", "country": "Narnia"})

    job = start(api, mappings={**MAPPINGS, "address.country": "address.country"})

    assert (job["status"], job["added"], job["errors"]) == ("completed", 3, 2)
    details = {d["stripe_customer_id"]: d for d in job["error_details"]}
    assert "No email" in details[no_email["id"]]["reason"]
    assert details[bad_country["id"]]["email"] == "far@away.com" and "country" in details[bad_country["id"]]["reason"]


def test_a_missing_connection_fails_that_job_only(api, live, stripe, owner):
    seed_customers(stripe, 2)
    lonely = AccountFactory()
    orphan = ImportJob.objects.create(account=lonely, created_by=owner, type="person", new_contact=True)
    disconnected = AccountFactory()
    connection = connect(disconnected, secret_key=TEST_SECRET_KEY)
    connection.status = "disconnected"
    connection.save()
    off = ImportJob.objects.create(account=disconnected, created_by=owner, type="person", new_contact=True)

    assert import_jobs_sweep() == 2  # the beat runs both (in place here)
    job = start(api)

    orphan.refresh_from_db()
    off.refresh_from_db()
    assert orphan.status == off.status == "failed"
    assert "no usable Stripe connection" in orphan.failure_reason and orphan.finished_at is not None
    assert job["status"] == "completed" and job["added"] == 2
    assert not Contact.objects.filter(account__in=[lonely, disconnected]).exists()


def test_an_injected_stripe_500_mid_import_is_retried(api, live, stripe, stripe_server, monkeypatch):
    seed_customers(stripe, 250)
    calls = []
    real_page_write = run_module.page_write

    def page_write_then_fail(**kwargs):
        job = real_page_write(**kwargs)
        calls.append(job.pages)
        if job.pages == 1:  # the next two reads of page 2 get Stripe's 500
            stripe_server.fail_next("/v1/customers", 500, count=2, method="GET")
        return job

    monkeypatch.setattr(run_module, "page_write", page_write_then_fail)
    delays = []
    real_backoff = run_module.backoff_delay
    monkeypatch.setattr(run_module, "backoff_delay", lambda *a, **k: delays.append(a[0]) or real_backoff(*a, **k))

    job = start(api)

    assert (job["status"], job["processed"], job["added"], job["errors"]) == ("completed", 250, 250, 0)
    assert calls == [1, 2, 3] and delays == [0, 1]  # two retries, the second one's ceiling twice the first's
    assert stripe_server.faults() == []
    assert ImportJob.objects.get(pk=job["id"]).attempts == 0
    assert len(contacts_of(live)) == 250


def test_stripe_failing_every_time_fails_the_job_after_its_retries(api, live, stripe, stripe_server, settings):
    settings.CONTACTS_IMPORT_MAX_RETRIES = 2
    seed_customers(stripe, 2)
    stripe_server.fail_next("/v1/customers", 503, count=10, method="GET")

    job = start(api)

    assert job["status"] == "failed" and "after 2 retries" in job["failure_reason"]


class Killed(BaseException):
    """Stands for a worker killed outright: none of the run's own error handling runs."""


def test_a_run_killed_after_page_2_resumes_from_its_cursor_without_duplicates(
    api, live, stripe, owner, monkeypatch, settings
):
    seed_customers(stripe, 250)
    existing = Contact.objects.create(account=live, type="person", email="customer100@example.com", phone="1")
    real_page_write = run_module.page_write

    def killed_after_page_2(**kwargs):
        job = real_page_write(**kwargs)
        if job.pages == 2:
            raise Killed()
        return job

    monkeypatch.setattr(run_module, "page_write", killed_after_page_2)
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", mappings=MAPPINGS, new_contact=True)
    with pytest.raises(Killed):
        import_job_run(job_id=job.pk)
    monkeypatch.setattr(run_module, "page_write", real_page_write)
    job.refresh_from_db()
    assert (job.status, job.pages, job.processed, job.cursor != "") == ("running", 2, 200, True)

    # Its heartbeat is fresh: nobody else may take it yet. Once stale, the beat queues it and a worker takes over.
    assert import_job_run(job_id=job.pk).status == "not_claimed"
    settings.CONTACTS_IMPORT_STALE_SECONDS = 0
    assert import_jobs_sweep() == 1
    job.refresh_from_db()
    assert (job.status, job.pages, job.processed, job.added, job.updated) == ("completed", 3, 250, 249, 1)

    # The same import uninterrupted, for another account of the same Stripe data.
    other = AccountFactory()
    connect(other, secret_key=TEST_SECRET_KEY)
    Contact.objects.create(account=other, type="person", email="customer100@example.com", phone="1")
    whole = ImportJob.objects.create(
        account=other, created_by=owner, type="person", mappings=MAPPINGS, new_contact=True
    )
    import_job_run(job_id=whole.pk)
    whole.refresh_from_db()
    assert (whole.added, whole.updated) == (249, 1)

    def snapshot(account):
        fields = (
            "type",
            "email",
            "first_name",
            "last_name",
            "phone",
            "address_street",
            "custom_fields",
            "stripe_customer_id",
            "source",
            "old_field_values",
        )
        return sorted(tuple(str(getattr(c, f)) for f in fields) for c in Contact.objects.filter(account=account))

    assert snapshot(live) == snapshot(other)
    assert Contact.objects.filter(account=live).count() == 250
    existing.refresh_from_db()
    assert existing.old_field_values["phone"] == "1"


def test_a_job_held_by_one_worker_is_not_run_by_another(live, owner):
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", new_contact=True)
    first = import_job_claim(job_id=job.pk)
    assert first is not None
    assert import_job_claim(job_id=job.pk) is None
    assert import_job_run(job_id=job.pk).status == "not_claimed"
    # The first worker's token is the only one a page is written with.
    _, token = first
    job.refresh_from_db()
    assert job.claim_token == token


def test_a_taken_over_job_stops_its_old_worker(live, owner, settings):
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", new_contact=True)
    _, old_token = import_job_claim(job_id=job.pk)
    settings.CONTACTS_IMPORT_STALE_SECONDS = 0
    assert import_job_claim(job_id=job.pk) is not None  # the heartbeat went stale: a new holder

    from contacts_import.services.pages import LostClaim

    with pytest.raises(LostClaim):
        page_write(job_id=job.pk, token=old_token, customers=[{"id": "cus_x", "email": "x@y.com"}], has_more=True)
    assert not Contact.objects.exists()


def test_a_cancelled_job_stops_after_its_current_page(api, live, stripe, monkeypatch):
    seed_customers(stripe, 250)
    real_list_page = run_module.StripeClient.list_page
    reads = []

    def list_page_and_cancel(self, path, **params):
        reads.append(params.get("starting_after"))
        if len(reads) == 2:  # while page 2 is being read, the user cancels
            job = ImportJob.objects.get()
            assert api.post(f"{IMPORTS}{job.pk}/cancel/").json()["cancel_requested"] is True
        return real_list_page(self, path, **params)

    monkeypatch.setattr(run_module.StripeClient, "list_page", list_page_and_cancel)

    job = start(api)

    assert (job["status"], job["pages"], job["processed"], job["added"]) == ("cancelled", 2, 200, 200)
    assert len(reads) == 2 and Contact.objects.count() == 200
    refused = api.post(f"{IMPORTS}{job['id']}/cancel/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "import_finished"


def test_a_pending_job_is_cancelled_at_once_and_never_runs(api, live, owner, stripe):
    seed_customers(stripe, 2)
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", new_contact=True)

    body = api.post(f"{IMPORTS}{job.pk}/cancel/").json()

    assert (body["status"], body["processed"]) == ("cancelled", 0)
    assert import_job_run(job_id=job.pk).status == "not_claimed" and not Contact.objects.exists()


def test_a_limit_stops_the_import(api, live, stripe):
    seed_customers(stripe, 130)
    job = start(api, limit=110)
    assert (job["status"], job["processed"], job["added"], job["pages"]) == ("completed", 110, 110, 2)
    assert Contact.objects.count() == 110


def test_a_page_costs_the_same_queries_whatever_its_size(live, owner):
    def page(n, offset, phone="1"):
        # One domain per customer: in a business import each is a company of its own.
        return [
            {"id": f"cus_{offset + i}", "email": f"p@d{offset + i}.example", "name": f"A B{i}", "phone": phone}
            for i in range(n)
        ]

    def queries(customers, *, business=False):
        job = ImportJob.objects.create(
            account=live,
            created_by=owner,
            type="business" if business else "person",
            new_contact=True,
            mappings={"name": "name", "phone": "phone"},
        )
        _, token = import_job_claim(job_id=job.pk)
        with CaptureQueriesContext(connection) as captured:
            page_write(job_id=job.pk, token=token, customers=customers, has_more=True)
        return len(captured)

    # SQLite caps a statement at 999 parameters, so Django splits a 100-row INSERT into a few; PostgreSQL does not.
    slack = 0 if connection.vendor == "postgresql" else 4
    small, large = queries(page(2, 0)), queries(page(100, 1000))
    assert small <= large <= small + slack, (small, large)
    # Updates too (every one of these matches a contact now and changes its phone), and a business import's
    # domain lookup.
    assert small <= queries(page(100, 1000, phone="2")) <= small + slack
    assert Contact.objects.filter(phone="2").count() == 100
    business_small = queries(page(3, 9000), business=True)
    assert business_small <= queries(page(100, 5000), business=True) <= business_small + slack
