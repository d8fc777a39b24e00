"""A sub-account as a customer in its agency's Stripe (created once, on first need, its id kept), and its saved
cards: a SetupIntent to save one, the list, and which one is the default (the customer's
`invoice_settings.default_payment_method` in the agency's Stripe)."""

import uuid

from django.db import IntegrityError, transaction

from core.errors import Conflict, NotFound
from marketplace.models import StoreCustomer
from marketplace.services.stripe_access import agency_client, agency_key


def store_customer_ensure(*, sub_account, agency) -> StoreCustomer:
    """Created once: the Stripe create's key is the sub-account's, so two first needs at once get the same
    customer from Stripe, and the unique sub-account row keeps one."""
    existing = StoreCustomer.objects.filter(sub_account=sub_account).first()
    if existing is not None:
        return existing
    obj = agency_client(agency=agency).create(
        "/v1/customers",
        idempotency_key=agency_key(agency=agency, action="customer", request_id=str(sub_account.pk)),
        name=sub_account.name,
        metadata={"sub_account_id": str(sub_account.pk)},
    )
    try:
        with transaction.atomic():
            return StoreCustomer.objects.create(sub_account=sub_account, agency=agency, stripe_customer_id=obj["id"])
    except IntegrityError:
        return StoreCustomer.objects.get(sub_account=sub_account)


def payment_method_setup(*, sub_account, agency) -> dict:
    """A SetupIntent for the SPA to save a card with Stripe.js (`client_secret`); nothing moves money."""
    customer = store_customer_ensure(sub_account=sub_account, agency=agency)
    intent = agency_client(agency=agency).create(
        "/v1/setup_intents",
        idempotency_key=agency_key(agency=agency, action="setup_intent", request_id=uuid.uuid4().hex),
        customer=customer.stripe_customer_id,
        usage="off_session",
        metadata={"sub_account_id": str(sub_account.pk)},
    )
    return {"id": intent["id"], "client_secret": intent["client_secret"], "customer": customer.stripe_customer_id}


def payment_methods_list(*, sub_account, agency) -> list[dict]:
    """The sub-account's saved cards, newest first, each with `is_default` (see `default_payment_method`)."""
    customer = StoreCustomer.objects.filter(sub_account=sub_account).first()
    if customer is None:
        return []
    client = agency_client(agency=agency)
    methods = list(client.iterate("/v1/payment_methods", customer=customer.stripe_customer_id, type="card"))
    methods.sort(key=lambda m: m.get("created") or 0, reverse=True)
    default = _default_id(client, customer.stripe_customer_id, methods)
    return [_card(m, default) for m in methods]


def payment_method_set_default(*, sub_account, agency, payment_method_id: str) -> list[dict]:
    customer = StoreCustomer.objects.filter(sub_account=sub_account).first()
    client = agency_client(agency=agency)
    if customer is not None:
        methods = list(client.iterate("/v1/payment_methods", customer=customer.stripe_customer_id, type="card"))
        if any(m["id"] == payment_method_id for m in methods):
            client.update(
                "/v1/customers",
                customer.stripe_customer_id,
                invoice_settings={"default_payment_method": payment_method_id},
            )
            return payment_methods_list(sub_account=sub_account, agency=agency)
    raise NotFound(f"No saved card {payment_method_id} on this account.")


def default_payment_method(*, client, customer: StoreCustomer) -> str:
    """The card a purchase is charged to: the customer's default, else its newest card (a card saved without a
    default being chosen). Conflict (409) `no_payment_method` when there is none."""
    methods = list(client.iterate("/v1/payment_methods", customer=customer.stripe_customer_id, type="card"))
    default = _default_id(client, customer.stripe_customer_id, methods)
    if not default:
        raise Conflict(
            "No saved card: save one first (POST /api/v1/billing/store/payment-methods/setup/, then confirm the "
            "SetupIntent with Stripe.js).",
            code="no_payment_method",
        )
    return default


def _default_id(client, customer_id: str, methods: list[dict]) -> str:
    if not methods:
        return ""
    customer = client.retrieve("/v1/customers", customer_id)
    chosen = ((customer.get("invoice_settings") or {}).get("default_payment_method")) or ""
    if chosen and any(m["id"] == chosen for m in methods):
        return chosen
    return max(methods, key=lambda m: m.get("created") or 0)["id"]


def _card(method: dict, default: str) -> dict:
    card = method.get("card") or {}
    return {
        "id": method["id"],
        "brand": card.get("brand", ""),
        "last4": card.get("last4", ""),
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
        "is_default": method["id"] == default,
    }
