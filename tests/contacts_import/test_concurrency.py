"""Concurrency proofs on PostgreSQL (skipped on SQLite): one claim wins whatever the number of workers, and two
jobs of one account running at once on separate connections never create a contact twice."""

import pytest

from contacts_import.models import Contact, ImportJob
from contacts_import.services.jobs import import_job_claim
from contacts_import.services.run import import_job_run
from tests.contacts_import.conftest import seed_customers
from tests.helpers.threads import run_concurrently

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("requires_postgres")]


def test_one_claim_wins_among_many_workers(live, owner):
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", new_contact=True)

    claims = run_concurrently(lambda i: import_job_claim(job_id=job.pk), 8)

    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1
    job.refresh_from_db()
    assert (job.status, job.claim_token) == ("running", winners[0][1])


def test_a_job_run_by_many_workers_at_once_is_run_once(live, owner, stripe):
    seed_customers(stripe, 120)
    job = ImportJob.objects.create(account=live, created_by=owner, type="person", new_contact=True)

    outcomes = run_concurrently(lambda i: import_job_run(job_id=job.pk).status, 4)

    assert sorted(outcomes) == ["completed", "not_claimed", "not_claimed", "not_claimed"]
    job.refresh_from_db()
    assert (job.pages, job.processed, job.added) == (2, 120, 120)
    assert Contact.objects.filter(account=live).count() == 120


@pytest.mark.parametrize("contact_type", ["person", "business"])
def test_two_jobs_of_one_account_at_once_never_create_duplicates(live, owner, stripe, contact_type):
    seed_customers(stripe, 250)
    seed_customers(stripe, 30, prefix="staff", domain="acme.example")  # one company in a business import
    jobs = [
        ImportJob.objects.create(
            account=live, created_by=owner, type=contact_type, new_contact=True, mappings={"name": "name"}
        )
        for _ in range(2)
    ]

    outcomes = run_concurrently(lambda i: import_job_run(job_id=jobs[i].pk).status, 2)

    assert outcomes == ["completed", "completed"]
    for job in jobs:
        job.refresh_from_db()
    expected = 280 if contact_type == "person" else 2  # persons: one each; businesses: one per domain
    contacts = Contact.objects.filter(account=live)
    assert contacts.count() == expected
    assert sum(job.added for job in jobs) == expected  # each contact was added by exactly one of them
    assert len(set(contacts.values_list("stripe_customer_id", flat=True))) == expected
    assert all(job.errors == 0 and job.processed == 280 for job in jobs)
