"""One page of Stripe customers written into the account's contacts, in bulk: a constant number of queries per
page whatever its size: the job's row, the account's import lock, one lookup (by Stripe id and by email; a
business import adds one by domain), one INSERT of the new contacts, one UPDATE of the changed ones, the job's
progress (and, while a job's problem lists are under their cap, a read of the list that grows).

Matching (SPEC §6): by `stripe_customer_id`, then by email within the import's type, then, for a business
import, by the email's domain (never a free-mail domain), so one company is not imported twice under two
employees' addresses. The page is planned in order against what the database holds plus what this page has
planned so far, so two customers of one page never make two contacts either."""

import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from contacts_import import mapping
from contacts_import.models import Contact, ImportJob
from contacts_import.models.import_job import DETAILS_MAX
from contacts_import.services.contact_rows import (
    SCALARS,
    contact_rows,
    contact_rows_insert,
    contact_rows_matching,
    contact_rows_update,
)
from contacts_import.services.events import notify_completed, notify_progress

logger = logging.getLogger(__name__)


class LostClaim(Exception):
    """The job is no longer this worker's (taken over after a stale heartbeat, or finished meanwhile)."""


@dataclass
class PagePlan:
    new: list[dict] = field(default_factory=list)  # rows (contacts_import/services/contact_rows.py)
    changed: dict[int, dict] = field(default_factory=dict)
    added: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0
    error_details: list[dict] = field(default_factory=list)
    skipped_details: list[dict] = field(default_factory=list)

    def error(self, customer: dict, reason: str) -> None:
        self.errors += 1
        self.error_details.append(_detail(customer, reason))

    def skip(self, customer: dict, reason: str) -> None:
        self.skipped += 1
        self.skipped_details.append(_detail(customer, reason))


def _detail(customer: dict, reason: str) -> dict:
    return {"stripe_customer_id": customer.get("id"), "email": customer.get("email") or "", "reason": reason}


def _lock_account_imports(account_id) -> None:
    """Imports of one account write their pages one at a time (a transaction-scoped advisory lock), so two jobs
    at once read each other's contacts instead of both creating them. The unique constraints stay the backstop.
    SQLite writes one transaction at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('contacts_import'), hashtext(%s))", [str(account_id)])


def page_plan(*, job: ImportJob, customers: list[dict]) -> PagePlan:
    """Decides, for each customer of the page, what happens to which contact: one lookup query (a business
    import adds its domain lookup), contacts read as rows."""
    plan = PagePlan()
    contact_type = job.type
    mapped_pairs = []
    for customer in customers:
        try:
            mapped_pairs.append((customer, mapping.map_customer(customer, job.mappings, contact_type=contact_type)))
        except mapping.CustomerInvalid as exc:
            plan.error(customer, str(exc))
    ids = [mapped.stripe_customer_id for _, mapped in mapped_pairs]
    emails = [mapped.email for _, mapped in mapped_pairs if mapped.email]
    wanted_ids, wanted_emails = set(ids), set(emails)
    by_stripe, by_email = {}, {}
    for row in contact_rows_matching(
        account_id=job.account_id, contact_type=contact_type, stripe_ids=ids, emails=emails
    ):
        if row["stripe_customer_id"] in wanted_ids:
            by_stripe[row["stripe_customer_id"]] = row
        if row["type"] == contact_type and row["email"] in wanted_emails:
            by_email[row["email"]] = row
    by_domain: dict[str, dict] = {}
    if contact_type == Contact.Type.BUSINESS:
        domains = {d for _, m in mapped_pairs if (d := m.email_domain) and not mapping.is_free_mail(d)}
        in_domains = Contact.objects.filter(
            account_id=job.account_id, type=contact_type, email_domain__in=domains
        ).exclude(email_domain="")
        for row in contact_rows(in_domains.order_by("id")):
            by_domain.setdefault(row["email_domain"], row)

    for customer, mapped in mapped_pairs:
        domain = mapped.email_domain
        row, how = by_stripe.get(mapped.stripe_customer_id), "stripe"
        if row is not None and row["type"] != contact_type:
            plan.skip(customer, f"The customer is linked to {row['type']} contact {row['id']}.")
            continue
        if row is None and mapped.email:
            row, how = by_email.get(mapped.email), "email"
        if row is None and contact_type == Contact.Type.BUSINESS and domain and not mapping.is_free_mail(domain):
            row, how = by_domain.get(domain), "domain"
        if row is None:
            if not mapped.email:
                plan.error(customer, "No email, and no contact is linked to this customer.")
            elif not job.new_contact:
                plan.skip(customer, "No matching contact, and new_contact is false.")
            else:
                row = _new_row(contact_type=contact_type, mapped=mapped)
                plan.new.append(row)
                plan.added += 1
                by_stripe[mapped.stripe_customer_id] = row
                by_email[mapped.email] = row
                if contact_type == Contact.Type.BUSINESS and not mapping.is_free_mail(domain):
                    by_domain.setdefault(domain, row)
            continue
        linked = row["stripe_customer_id"]
        if how != "stripe" and linked and linked != mapped.stripe_customer_id:
            plan.skip(
                customer,
                f"Contact {row.get('id') or '(new in this page)'} is already linked to Stripe customer {linked}.",
            )
            continue
        if how == "stripe" and mapped.email and mapped.email != row["email"]:
            holder = by_email.get(mapped.email)
            if holder is not None and holder is not row:
                plan.error(customer, f"Its email {mapped.email} belongs to another contact ({holder.get('id')}).")
                continue
        if _apply(row, mapped, keep_email=how == "domain", by_email=by_email) and "id" in row:
            plan.changed[row["id"]] = row
        plan.updated += 1
    return plan


def _new_row(*, contact_type: str, mapped: mapping.Mapped) -> dict:
    row = dict.fromkeys(SCALARS, "")
    row.update(mapped.columns)
    row.update(
        type=contact_type,
        email_domain=mapped.email_domain,
        stripe_customer_id=mapped.stripe_customer_id,
        custom_fields=dict(mapped.custom),
    )
    return row


def _apply(row: dict, mapped: mapping.Mapped, *, keep_email: bool, by_email: dict) -> bool:
    """Writes `mapped` into the row; answers whether anything changed (then `old_field_values` says what)."""
    new_columns, new_custom, old = mapping.changes(row, row["custom_fields"] or {}, mapped, keep_email=keep_email)
    if not row["stripe_customer_id"]:
        old["stripe_customer_id"] = ""
        row["stripe_customer_id"] = mapped.stripe_customer_id
    if not (new_columns or new_custom or old):
        return False
    if "email" in new_columns:
        by_email.pop(row["email"], None)
        by_email[new_columns["email"]] = row
        row["email_domain"] = mapping.email_domain(new_columns["email"])
    row.update(new_columns)
    if new_custom:
        row["custom_fields"] = {**(row["custom_fields"] or {}), **new_custom}
    row["old_field_values"] = old
    return True


def page_write(*, job_id: int, token: str, customers: list[dict], has_more: bool) -> ImportJob:
    """Writes one page and the job's progress in one transaction, and finishes the job when this page was its
    last (no more customers, its limit reached, or a cancellation asked for meanwhile). Raises LostClaim when the
    job is no longer held with `token` (nothing is written then)."""
    with transaction.atomic():
        # The problem lists stay out of the lock's read: they are read (and written) only while they may grow.
        job = ImportJob.objects.select_for_update().defer("error_details", "skipped_details").get(pk=job_id)
        if job.claim_token != token or job.status != ImportJob.Status.RUNNING:
            raise LostClaim(f"import {job_id} is no longer held by this worker ({job.status})")
        _lock_account_imports(job.account_id)
        plan = page_plan(job=job, customers=customers)
        now = timezone.now()
        contact_rows_insert(plan.new, account_id=job.account_id, user_id=job.created_by_id, now=now)
        contact_rows_update(list(plan.changed.values()), now=now)
        job.save(update_fields=_record(job, plan, customers=customers, has_more=has_more))
        notify_progress(job)
        if job.is_finished:
            notify_completed(job)
    return job


def _record(job: ImportJob, plan: PagePlan, *, customers: list[dict], has_more: bool) -> list[str]:
    """Adds the page to the job (counts, problems, cursor, heartbeat, status); answers the columns to save."""
    now = timezone.now()
    changed = ["pages", "processed", "added", "updated", "skipped", "errors", "cursor", "heartbeat_at", "attempts"]
    for name, new, count in (
        ("error_details", plan.error_details, job.errors),
        ("skipped_details", plan.skipped_details, job.skipped),
    ):
        if new and count < DETAILS_MAX:  # `count` problems were recorded before this page: the list holds them
            setattr(job, name, (getattr(job, name) + new)[:DETAILS_MAX])  # one read of the deferred list
            changed.append(name)
    job.pages += 1
    job.processed += len(customers)
    job.added += plan.added
    job.updated += plan.updated
    job.skipped += plan.skipped
    job.errors += plan.errors
    if customers:
        job.cursor = customers[-1]["id"]
    job.heartbeat_at = now
    job.attempts = 0
    limit_reached = job.limit is not None and job.processed >= job.limit
    more = has_more and bool(customers) and not limit_reached
    if not more:
        job.status = ImportJob.Status.COMPLETED
    elif job.cancel_requested:
        job.status = ImportJob.Status.CANCELLED
    if job.is_finished:
        job.finished_at = now
        job.claim_token = ""
        changed += ["status", "finished_at", "claim_token"]
    return changed + ["updated_at"]
