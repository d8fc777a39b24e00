"""Paying a checkout session the way a customer with a working card would.

`POST /_test/checkout/sessions/<id>/complete` (and the Pay button of the hosted page) makes in localstripe what
Stripe makes when a customer pays: the customer when needed, a `pm_card_visa` card, then the subscription
(subscription mode) or a succeeded payment intent and its charge (payment mode); then it marks the session
complete and paid and emits `checkout.session.completed` to the registered webhooks. Everything is created as the
session's owner, so a connected account's session fills that account's objects.
"""

from aiohttp import web
from localstripe.resources import Customer, PaymentIntent, PaymentMethod, Subscription
from localstripe.server import json_response

from localdev.fake_stripe import events, isolation
from localdev.fake_stripe.checkout import CheckoutSession
from localdev.fake_stripe.errors import invalid_request, no_such

PLACEHOLDER_EMAIL = "checkout.customer@example.com"  # what the paying customer "typed" when nobody gave one


def _subscribe(session: CheckoutSession, customer_id: str, card: PaymentMethod) -> None:
    customer = Customer._api_retrieve(customer_id)
    if customer._get_default_payment_method_or_source() is None:
        # localstripe charges a subscription's invoices to the customer's default payment method only (it refuses
        # `default_payment_method` on a subscription, where real Checkout puts the card).
        Customer._api_update(customer_id, invoice_settings={"default_payment_method": card.id})
    (item,) = session._line_items
    subscription = Subscription._api_create(
        customer=customer_id,
        items=[{"plan": item["price"], "quantity": item["quantity"]}],
        metadata=dict(session._subscription_metadata),
    )
    session.subscription = subscription.id
    session.invoice = subscription.latest_invoice


def _pay(session: CheckoutSession, customer_id: str | None, card: PaymentMethod) -> None:
    payment_intent = PaymentIntent._api_create(
        confirm=True,
        amount=session.amount_total,
        currency=session.currency,
        customer=customer_id,
        payment_method=card.id,
        metadata=dict(session._payment_intent_metadata),
    )
    session.payment_intent = payment_intent.id


def complete(session: CheckoutSession) -> CheckoutSession:
    """Pays an open session; call it as the session's owner (isolation.acting_as)."""
    if session.status != "open":
        raise invalid_request(
            f"Checkout Session {session.id} is {session.status}: only an open session can be completed."
        )
    customer_id = session.customer
    email = session.customer_email or PLACEHOLDER_EMAIL
    if customer_id is not None:
        email = Customer._api_retrieve(customer_id).email or email
    elif session.mode == "subscription" or session.customer_creation == "always":
        customer_id = Customer(email=email).id

    card = PaymentMethod._api_retrieve("pm_card_visa")  # localstripe makes a fresh card of this test id
    if customer_id is not None:
        PaymentMethod._api_attach(card.id, customer=customer_id)
    if session.mode == "subscription":
        _subscribe(session, customer_id, card)
    else:
        _pay(session, customer_id, card)

    session.status = "complete"
    session.payment_status = "paid" if session.amount_total > 0 else "no_payment_required"
    session.customer = customer_id
    session.customer_details = {
        "email": email,
        "name": None,
        "phone": None,
        "address": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    session.url = None
    events.emit("checkout.session.completed", session)
    return session


def find_session(session_id: str) -> CheckoutSession:
    """Any account's session: control routes and the hosted page carry no `Stripe-Account`."""
    session = isolation.find_unchecked(CheckoutSession.object, session_id)
    if session is None:
        raise no_such(CheckoutSession.object, session_id)
    return session


async def complete_route(request: web.Request) -> web.Response:
    session = find_session(request.match_info["id"])
    with isolation.acting_as(isolation.owner_of(session)):
        return json_response(complete(session)._export())


def install(app: web.Application) -> None:
    app.router.add_post("/_test/checkout/sessions/{id}/complete", complete_route)
