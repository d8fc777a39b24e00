"""Reads of the account's import jobs."""

from django.db.models import QuerySet

from contacts_import.models import ImportJob
from core import errors


def import_job_list(*, account, status: str | None = None) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.for_account(account)
    return jobs.filter(status=status) if status else jobs


def import_job_get(*, account, job_id) -> ImportJob:
    """Another account's job is a 404, as a job that does not exist."""
    job = ImportJob.objects.for_account(account).filter(pk=job_id).first()
    if job is None:
        raise errors.NotFound("No such import.")
    return job
