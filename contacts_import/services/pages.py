"""One page of Stripe customers written into the account's contacts, in bulk: a constant number of queries per
page whatever its size (the job's row, the account's import lock, three lookups, one INSERT of the new contacts,
one upsert of the changed ones, the job's progress).

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
from contacts_import.services.events import notify_completed, notify_progress

logger = logging.getLogger(__name__)

# Columns an import may write (besides the ones mapping produces: they are all among these).
WRITABLE = (
    "email",
    "email_domain",
    "first_name",
    "last_name",
    "business_name",
    "phone",
    *(f"{kind}_{part}" for kind in mapping.CONTACT_WHOLE for part in mapping.ADDRESS_PARTS),
    "custom_fields",
    "stripe_customer_id",
    "old_field_values",
    "updated_at",
)


class LostClaim(Exception):
    """The job is no longer this worker's (taken over after a stale heartbeat, or finished meanwhile)."""


@dataclass
class PagePlan:
    new: list[Contact] = field(default_factory=list)
    changed: dict[int, Contact] = field(default_factory=dict)
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
    """Decides, for each customer of the page, what happens to which contact (three queries)."""
    plan = PagePlan()
    contact_type = job.type
    mapped_pairs = []
    for customer in customers:
        try:
            mapped_pairs.append((customer, mapping.map_customer(customer, job.mappings, contact_type=contact_type)))
        except mapping.CustomerInvalid as exc:
            plan.error(customer, str(exc))
    contacts = Contact.objects.filter(account_id=job.account_id)
    ids = [mapped.stripe_customer_id for _, mapped in mapped_pairs]
    by_stripe = {c.stripe_customer_id: c for c in contacts.filter(stripe_customer_id__in=ids)}
    emails = {mapped.email for _, mapped in mapped_pairs if mapped.email}
    by_email = {c.email: c for c in contacts.filter(type=contact_type, email__in=emails)}
    by_domain: dict[str, Contact] = {}
    if contact_type == Contact.Type.BUSINESS:
        domains = {d for _, m in mapped_pairs if (d := m.email_domain) and not mapping.is_free_mail(d)}
        for c in contacts.filter(type=contact_type, email_domain__in=domains).order_by("id"):
            by_domain.setdefault(c.email_domain, c)

    for customer, mapped in mapped_pairs:
        domain = mapped.email_domain
        contact, how = by_stripe.get(mapped.stripe_customer_id), "stripe"
        if contact is not None and contact.type != contact_type:
            plan.skip(customer, f"The customer is linked to {contact.type} contact {contact.pk}.")
            continue
        if contact is None and mapped.email:
            contact, how = by_email.get(mapped.email), "email"
        if contact is None and contact_type == Contact.Type.BUSINESS and domain and not mapping.is_free_mail(domain):
            contact, how = by_domain.get(domain), "domain"
        if contact is None:
            if not mapped.email:
                plan.error(customer, "No email, and no contact is linked to this customer.")
            elif not job.new_contact:
                plan.skip(customer, "No matching contact, and new_contact is false.")
            else:
                contact = _new_contact(job=job, mapped=mapped)
                plan.new.append(contact)
                plan.added += 1
                by_stripe[mapped.stripe_customer_id] = contact
                by_email[mapped.email] = contact
                if contact_type == Contact.Type.BUSINESS and not mapping.is_free_mail(domain):
                    by_domain.setdefault(domain, contact)
            continue
        if how != "stripe" and contact.stripe_customer_id and contact.stripe_customer_id != mapped.stripe_customer_id:
            plan.skip(
                customer,
                f"Contact {contact.pk or '(new in this page)'} is already linked to Stripe customer "
                f"{contact.stripe_customer_id}.",
            )
            continue
        keep_email = how == "domain"
        if how == "stripe" and mapped.email and mapped.email != contact.email:
            holder = by_email.get(mapped.email)
            if holder is not None and holder is not contact:
                plan.error(customer, f"Its email {mapped.email} belongs to another contact ({holder.pk}).")
                continue
        _apply(contact, mapped, keep_email=keep_email, by_email=by_email)
        if contact.pk is not None and getattr(contact, "_dirty", False):
            plan.changed[contact.pk] = contact
        plan.updated += 1
    return plan


def _new_contact(*, job: ImportJob, mapped: mapping.Mapped) -> Contact:
    contact = Contact(
        account_id=job.account_id,
        type=job.type,
        source=Contact.Source.STRIPE,
        stripe_customer_id=mapped.stripe_customer_id,
        owner_id=job.created_by_id,
        created_by_id=job.created_by_id,
        email_domain=mapped.email_domain,
        custom_fields=dict(mapped.custom),
        **mapped.columns,
    )
    return contact


def _apply(contact: Contact, mapped: mapping.Mapped, *, keep_email: bool, by_email: dict) -> None:
    current = {column: getattr(contact, column) for column in mapped.columns}
    new_columns, new_custom, old = mapping.changes(current, contact.custom_fields or {}, mapped, keep_email=keep_email)
    if not contact.stripe_customer_id:
        old["stripe_customer_id"] = ""
        contact.stripe_customer_id = mapped.stripe_customer_id
    if not (new_columns or new_custom or old):
        return
    if "email" in new_columns:
        by_email.pop(contact.email, None)
        by_email[new_columns["email"]] = contact
        contact.email_domain = mapping.email_domain(new_columns["email"])
    for column, value in new_columns.items():
        setattr(contact, column, value)
    if new_custom:
        contact.custom_fields = {**(contact.custom_fields or {}), **new_custom}
    if contact.pk is not None:
        contact.old_field_values = old
        contact._dirty = True


def page_write(*, job_id: int, token: str, customers: list[dict], has_more: bool) -> ImportJob:
    """Writes one page and the job's progress in one transaction, and finishes the job when this page was its
    last (no more customers, its limit reached, or a cancellation asked for meanwhile). Raises LostClaim when the
    job is no longer held with `token` (nothing is written then)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.claim_token != token or job.status != ImportJob.Status.RUNNING:
            raise LostClaim(f"import {job_id} is no longer held by this worker ({job.status})")
        _lock_account_imports(job.account_id)
        plan = page_plan(job=job, customers=customers)
        if plan.new:
            Contact.objects.bulk_create(plan.new)
        if plan.changed:
            now = timezone.now()
            for contact in plan.changed.values():
                contact.updated_at = now
            # One statement for every changed contact: an upsert on the primary key (each row exists).
            Contact.objects.bulk_create(
                list(plan.changed.values()), update_conflicts=True, unique_fields=["id"], update_fields=list(WRITABLE)
            )
        _record(job, plan, customers=customers, has_more=has_more)
        job.save()
        notify_progress(job)
        if job.is_finished:
            notify_completed(job)
    return job


def _record(job: ImportJob, plan: PagePlan, *, customers: list[dict], has_more: bool) -> None:
    now = timezone.now()
    job.pages += 1
    job.processed += len(customers)
    job.added += plan.added
    job.updated += plan.updated
    job.skipped += plan.skipped
    job.errors += plan.errors
    job.error_details = (job.error_details + plan.error_details)[:DETAILS_MAX]
    job.skipped_details = (job.skipped_details + plan.skipped_details)[:DETAILS_MAX]
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
