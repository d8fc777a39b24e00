"""Demo data for the development stack: a login, an account, and its Stripe (the local one) holding customers,
a catalogue, subscriptions, and (demo_payments.py) two months of payments in two currencies with refunds,
disputes, payouts and payment links, so every screen has something to show."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import Account, Membership
from billing.models import StripeConnection
from billing.stripe.client import StripeClient
from localdev.demo_data import (
    CATALOGUE,
    CUSTOMERS,
    DEMO_ACCOUNT_NAME,
    DEMO_PASSWORD,
    DEMO_STRIPE_ACCOUNT,
    DEMO_STRIPE_KEY,
    DEMO_USERNAME,
    DEMO_WEBHOOK_SECRET,
    EUR_CUSTOMERS_EVERY,
    ONE_TIME_PRICES,
)
from localdev.demo_payments import seed_payments

logger = logging.getLogger(__name__)

# localstripe refuses `card[token]`; raw test card details are what it takes.
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


@transaction.atomic
def ensure_demo_account() -> tuple[Account, object]:
    """The demo user, account and Stripe connection; idempotent across restarts. The demo user is a superuser
    with a published password: it exists only where the development defaults were asked for."""
    if not settings.DEV_DEFAULTS:
        raise ImproperlyConfigured(
            f"The demo superuser ({DEMO_USERNAME}) is created only with BILLING_DEV_DEFAULTS=1 (scripts/dev sets it)."
        )
    User = get_user_model()
    user, created = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"email": "demo@example.com"})
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.is_staff = True
        user.is_superuser = True
        user.save()
    membership = Membership.objects.filter(user=user, account__name=DEMO_ACCOUNT_NAME).select_related("account").first()
    account = membership.account if membership else Account.objects.create(name=DEMO_ACCOUNT_NAME)
    if membership is None:
        Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    StripeConnection.objects.update_or_create(
        account=account,
        defaults={
            "auth_mode": StripeConnection.AuthMode.CONNECT,
            "secret_key": DEMO_STRIPE_KEY,
            "stripe_user_id": DEMO_STRIPE_ACCOUNT,
            "webhook_secret": DEMO_WEBHOOK_SECRET,
            "connected_by": user,
        },
    )
    return account, user


def seed_local_stripe() -> dict:
    """Fills the local Stripe with demo objects unless it already holds some (it keeps nothing across runs)."""
    stripe = StripeClient.for_credentials(secret_key=DEMO_STRIPE_KEY, stripe_user_id=DEMO_STRIPE_ACCOUNT)
    existing, _ = stripe.list_page("/v1/customers", limit=1)
    if existing:
        return {"seeded": False}

    plans = []
    for name, amount, interval in CATALOGUE:
        product = stripe.create("/v1/products", name=name, type="service")
        plans.append(
            stripe.create(
                "/v1/plans",
                id=f"plan_demo_{name.lower()}",
                product=product["id"],
                amount=amount,
                currency="usd",
                interval=interval,
                nickname=f"{name} ({interval}ly)",
            )
        )

    prices = {}
    for name, amount, currency in ONE_TIME_PRICES:
        product = stripe.create("/v1/products", name=name, type="service")
        prices[name] = stripe.create("/v1/prices", product=product["id"], unit_amount=amount, currency=currency)

    customers, currencies, subscriptions = [], {}, 0
    for n in range(CUSTOMERS):
        customer = stripe.create("/v1/customers", name=f"Demo Customer {n + 1}", email=f"customer{n + 1}@demo.example")
        method = stripe.create("/v1/payment_methods", type="card", card=TEST_CARD)
        stripe.request("post", f"/v1/payment_methods/{method['id']}/attach", customer=customer["id"])
        customer = stripe.update(
            "/v1/customers", customer["id"], invoice_settings={"default_payment_method": method["id"]}
        )
        customers.append(customer)
        currencies[customer["id"]] = "eur" if n % EUR_CUSTOMERS_EVERY == EUR_CUSTOMERS_EVERY - 1 else "usd"
        if n % 2 == 0:
            stripe.create(
                "/v1/subscriptions",
                customer=customer["id"],
                items=[{"plan": plans[n % len(plans)]["id"]}],
                idempotency_key=f"demo-sub-{n}",
            )
            subscriptions += 1
    money = seed_payments(stripe, customers, currencies, prices)
    return {"seeded": True, "customers": CUSTOMERS, "subscriptions": subscriptions, **money}


def record_payment_links(account, user, invoices: list[dict]) -> None:
    """The demo's payment links were made in the local Stripe directly: record them as the API would have
    (`PaymentLink` rows), so `payment-links/` lists them once the sync has mirrored their invoices."""
    from billing.models import PaymentLink

    PaymentLink.objects.bulk_create(
        [
            PaymentLink(
                account=account,
                request_id=f"demo-link-{invoice['id']}",
                invoice_stripe_id=invoice["id"],
                customer_stripe_id=invoice["customer"],
                memo=invoice.get("description") or "",
                created_by=user,
            )
            for invoice in invoices
        ],
        ignore_conflicts=True,
    )
