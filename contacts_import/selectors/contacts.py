"""Reads of the account's contacts."""

from django.db.models import QuerySet

from contacts_import.models import Contact
from core import errors


def contact_list(
    *,
    account,
    type: str | None = None,
    email: str | None = None,
    source: str | None = None,
    stripe_customer_id: str | None = None,
) -> QuerySet[Contact]:
    contacts = Contact.objects.for_account(account)
    if type:
        contacts = contacts.filter(type=type)
    if email:
        contacts = contacts.filter(email=email.strip().lower())
    if source:
        contacts = contacts.filter(source=source)
    if stripe_customer_id:
        contacts = contacts.filter(stripe_customer_id=stripe_customer_id)
    return contacts


def contact_get(*, account, contact_id) -> Contact:
    contact = Contact.objects.for_account(account).filter(pk=contact_id).first()
    if contact is None:
        raise errors.NotFound("No such contact.")
    return contact


def contact_exists(*, account, contact_id: str) -> bool:
    """Registered with billing (contact_check_register): a Stripe customer may be linked only to a contact of the
    same account."""
    return Contact.objects.for_account(account).filter(pk=int(contact_id)).exists()
