"""A customer's payment methods and subscriptions, written to the account's own Stripe then to the mirror
(services/account_stripe.py), and the customer's link to a CRM contact (our record, never Stripe's).

Every write calls Stripe first: if Stripe refuses (422) or cannot be reached (502) nothing is written. The caller
has already found the customer, and the payment method or subscription under it, in the token's account."""

import logging
import re
from collections.abc import Callable

from billing.models import Customer, CustomerContactLink, PaymentMethod, Subscription
from billing.services.account_stripe import account_client, idempotency_key, mirror_saved
from core import errors

logger = logging.getLogger(__name__)

# What Stripe accepts as a payment method id to attach: ours go into a request path, so nothing else gets there.
PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,250}")


# --- payment methods ----------------------------------------------------------------------------------------


def payment_method_attach(*, account, customer: Customer, payment_method: str, request_id: str) -> PaymentMethod:
    """Attaches a payment method (an existing `pm_...`, or a test one such as `pm_card_visa`) to the customer.
    The same request id attaches once. A payment method the mirror shows attached to another customer of the
    account is a Conflict (409): Stripe refuses to move one, and the SPA should detach it there first. A declined
    card is Stripe's refusal (StripeRejected, 422, with its reason)."""
    if not PAYMENT_METHOD_ID.fullmatch(payment_method or ""):
        raise errors.InvalidInput(
            "Not a payment method id.", details={"fields": {"payment_method": ["A payment method id: pm_..."]}}
        )
    owner = (
        PaymentMethod.objects.for_account(account)
        .live()
        .filter(stripe_id=payment_method)
        .values_list("customer_stripe_id", flat=True)
        .first()
    )
    if owner and owner != customer.stripe_id:
        raise errors.Conflict(
            f"Payment method {payment_method} is attached to another customer ({owner}): detach it there first.",
            code="payment_method_attached_elsewhere",
        )
    obj = account_client(account=account).create(
        f"/v1/payment_methods/{payment_method}/attach",
        idempotency_key=idempotency_key(account=account, action="payment_method.attach", request_id=request_id),
        customer=customer.stripe_id,
    )
    return mirror_saved(account=account, obj=obj)


def payment_method_detach(*, account, customer: Customer, payment_method: PaymentMethod) -> PaymentMethod:
    """Detaches the payment method from the customer. Stripe clears it as the customer's default itself; when it
    was the default, the customer is read back so its row shows no default at once. The detach is what was asked:
    if that read fails after it, the detach still stands (logged), and the customer.updated webhook follows."""
    client = account_client(account=account)
    obj = client.create(f"/v1/payment_methods/{payment_method.stripe_id}/detach")
    row = mirror_saved(account=account, obj=obj)
    if customer.default_payment_method_stripe_id == payment_method.stripe_id:
        try:
            mirror_saved(account=account, obj=client.retrieve("/v1/customers", customer.stripe_id))
        except errors.StripeError as exc:
            logger.warning("Detached %s; reading %s back failed: %s", row, customer, exc.message)
    return row


def customer_default_payment_method_set(*, account, customer: Customer, payment_method: PaymentMethod) -> Customer:
    """Makes an attached payment method the customer's default for invoices and subscriptions
    (`invoice_settings[default_payment_method]`); answers the customer's row, which shows it at once."""
    return _customer_default_set(
        account=account,
        client=account_client(account=account),
        customer=customer,
        payment_method_id=payment_method.stripe_id,
    )


def _customer_default_set(*, account, client, customer: Customer, payment_method_id: str) -> Customer:
    # An empty value clears the default, as Stripe reads it.
    obj = client.update(
        "/v1/customers", customer.stripe_id, invoice_settings={"default_payment_method": payment_method_id}
    )
    return mirror_saved(account=account, obj=obj)


# --- subscriptions ------------------------------------------------------------------------------------------


def subscription_create(
    *, account, customer: Customer, price: str, quantity: int | None, request_id: str
) -> Subscription:
    """Subscribes the customer to a recurring price; the same request id subscribes once. Stripe charges the
    customer's default payment method for the first invoice (a customer with none, an unknown or one-time price
    → StripeRejected). The subscription, its items and its first invoice are written to the mirror at once."""
    item: dict = {"price": price}
    if quantity is not None:
        item["quantity"] = quantity
    obj = account_client(account=account).create(
        "/v1/subscriptions",
        idempotency_key=idempotency_key(account=account, action="subscription.create", request_id=request_id),
        customer=customer.stripe_id,
        items=[item],
        expand=["latest_invoice"],
    )
    invoice = obj.get("latest_invoice")
    if isinstance(invoice, dict):
        mirror_saved(account=account, obj=invoice)
        # Kept as Stripe's events carry it (an id), so the row reads the same whichever wrote it last.
        obj = {**obj, "latest_invoice": invoice["id"]}
    return mirror_saved(account=account, obj=obj)


def subscription_cancel(*, account, subscription: Subscription) -> Subscription:
    """Cancels at the end of the current period (`cancel_at_period_end=true`): the customer keeps what they paid
    for; `subscription_resume` undoes it until then."""
    return _cancel_at_period_end(account=account, subscription=subscription, cancel=True)


def subscription_resume(*, account, subscription: Subscription) -> Subscription:
    """Undoes `subscription_cancel` before the period ends (`cancel_at_period_end=false`)."""
    return _cancel_at_period_end(account=account, subscription=subscription, cancel=False)


def _cancel_at_period_end(*, account, subscription: Subscription, cancel: bool) -> Subscription:
    obj = account_client(account=account).update(
        "/v1/subscriptions", subscription.stripe_id, cancel_at_period_end=cancel
    )
    return mirror_saved(account=account, obj=obj)


# --- the link to a CRM contact ------------------------------------------------------------------------------

# A contact id as the CRM's Contact (issue 13, contacts_import) will have it: the project's BigAutoField key.
CONTACT_ID = re.compile(r"[1-9][0-9]{0,18}")
CONTACT_ID_MAX = 2**63 - 1

# Whether a contact exists: contacts_import lives above billing, which never imports it, so it registers its
# check here (from its AppConfig.ready(), with `contact_check_register`). Until one is registered, only the
# id's format is checked. A check is called as check(account=, contact_id=) and answers a bool.
ContactCheck = Callable[..., bool]
_contact_checks: list[ContactCheck] = []


def contact_check_register(check: ContactCheck) -> ContactCheck:
    _contact_checks.append(check)
    return check


def contact_id_is_valid(contact_id: str) -> bool:
    return bool(CONTACT_ID.fullmatch(contact_id)) and int(contact_id) <= CONTACT_ID_MAX


def customer_contact_link(*, account, customer: Customer, contact_id: str, user) -> CustomerContactLink:
    """Links the customer to a CRM contact (one contact per customer; linking again replaces it). Stripe is
    not involved. An id of the wrong format, or one a registered check does not find in the account, is an
    InvalidInput naming `contact_id`."""
    if not contact_id_is_valid(contact_id):
        raise errors.InvalidInput(
            f"{contact_id!r} is not a contact id.", details={"fields": {"contact_id": ["A contact id: 1, 2, ..."]}}
        )
    for check in _contact_checks:
        if not check(account=account, contact_id=contact_id):
            raise errors.InvalidInput(
                f"No contact {contact_id} in this account.",
                code="contact_not_found",
                details={"fields": {"contact_id": [f"No contact {contact_id} in this account."]}},
            )
    link, _ = CustomerContactLink.objects.update_or_create(
        customer=customer, defaults={"account": account, "contact_id": contact_id, "linked_by": user}
    )
    return link


def customer_contact_unlink(*, account, customer: Customer) -> None:
    """Removes the customer's link to a contact; nothing happens when there is none (the state asked for)."""
    CustomerContactLink.objects.filter(account=account, customer=customer).delete()
