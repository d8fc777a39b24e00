"""Staff follow imports in the admin: the job list with status and counts, a job with its problems; contacts."""

import pytest

from contacts_import.models import Contact, ImportJob

pytestmark = pytest.mark.django_db


def test_the_admin_shows_jobs_with_progress_and_errors_and_contacts(admin_client, account):
    job = ImportJob.objects.create(
        account=account,
        type="person",
        status="running",
        processed=200,
        added=150,
        updated=48,
        errors=2,
        pages=2,
        error_details=[{"stripe_customer_id": "cus_bad", "email": "", "reason": "No email, and no contact is linked"}],
    )
    contact = Contact.objects.create(account=account, type="person", email="ada@example.com")

    listing = admin_client.get("/admin/contacts_import/importjob/")
    assert listing.status_code == 200
    assert b"running" in listing.content and b"150" in listing.content
    page = admin_client.get(f"/admin/contacts_import/importjob/{job.pk}/change/")
    assert page.status_code == 200 and b"cus_bad" in page.content and b"No email" in page.content
    assert admin_client.get("/admin/contacts_import/contact/").status_code == 200
    assert admin_client.get(f"/admin/contacts_import/contact/{contact.pk}/change/").status_code == 200
