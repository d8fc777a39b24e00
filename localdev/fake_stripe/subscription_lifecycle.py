"""A subscription's life after checkout, as our billing of accounts needs it (docs/local-stripe.md).

localstripe changes a subscription (`POST /v1/subscriptions/<id>`: another price, `cancel_at_period_end`) but emits
no `customer.subscription.updated`, refuses `proration_behavior` on an update, and never bills a second period.
Here:
- an update accepts `proration_behavior=create_prorations` (Stripe's default: localstripe then leaves the unused
  time of the previous price as a pending credit item for the next invoice) and emits
  `customer.subscription.updated` with `previous_attributes` when something a subscriber sees changed;
- `POST /_test/subscriptions/<id>/renew` `{"fail": bool}` bills the next period now: its invoice is paid by the
  customer's card (`invoice.payment_succeeded`, `invoice.paid`), or with `fail` declined
  (`invoice.payment_failed`, the subscription `past_due`), and `customer.subscription.updated` follows when the
  status moved. A paid renewal of a past-due subscription makes it active again.
"""

from aiohttp import web
from localstripe.resources import Customer, Invoice, PaymentMethod, Subscription
from localstripe.server import get_post_data, json_response

from localdev.fake_stripe import events, isolation
from localdev.fake_stripe.errors import invalid_request, no_such

PRORATION_BEHAVIORS = ("create_prorations",)
FAILING_CARD = "pm_card_chargeCustomerFail"  # attaches, then every charge on it is declined


def _seen(subscription: Subscription) -> dict:
    """What a subscriber sees of a subscription (what `previous_attributes` reports; items and plan compared by
    their price only, since their exports also carry fields that change with every invoice)."""
    return {
        "status": subscription.status,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "plan": subscription.plan.id,
    }


def _emit_updated(subscription: Subscription, before: dict) -> None:
    after = _seen(subscription)
    changed = {name: value for name, value in before.items() if after[name] != value}
    if not changed:
        return
    if "plan" in changed:
        changed["plan"] = {"id": changed["plan"]}
        changed["items"] = {"data": [{"price": {"id": changed["plan"]["id"]}}]}
    event = events.emit("customer.subscription.updated", subscription)
    event.data["previous_attributes"] = changed


def install() -> None:
    """After subscription_prices.install (it wraps the same method)."""
    update = Subscription._update

    def update_with_event(self, proration_behavior=None, **data):
        if proration_behavior is not None and proration_behavior not in PRORATION_BEHAVIORS:
            raise invalid_request(
                f"The local Stripe supports proration_behavior={'|'.join(PRORATION_BEHAVIORS)} only.",
                param="proration_behavior",
            )
        before = _seen(self)
        result = update(self, **data)
        _emit_updated(self, before)
        return result

    Subscription._update = update_with_event


async def renew(request: web.Request) -> web.Response:
    subscription_id = request.match_info["id"]
    subscription = isolation.find_unchecked(Subscription.object, subscription_id)
    if subscription is None:
        raise no_such(Subscription.object, subscription_id)
    data = await get_post_data(request) or {}
    fail = data.get("fail") in (True, "true", "1", 1)
    if subscription.status == "canceled":
        raise invalid_request(f"Subscription {subscription_id} is canceled: nothing to renew.")
    with isolation.acting_as(isolation.owner_of(subscription)):
        # A fresh card each time (localstripe makes one per test id), the customer's default from now on.
        card = PaymentMethod._api_retrieve(FAILING_CARD if fail else "pm_card_visa")
        PaymentMethod._api_attach(card.id, customer=subscription.customer)
        Customer._api_update(subscription.customer, invoice_settings={"default_payment_method": card.id})
        before = _seen(subscription)
        earlier = {invoice.id for invoice in _invoices_of(subscription)}
        subscription._create_invoice()
        for invoice in _invoices_of(subscription):
            if invoice.id not in earlier and invoice.status == "open":
                # localstripe pays a subscription's invoice without its failure hook: run it as Stripe would
                # (`invoice.payment_failed`, the subscription past due).
                invoice._on_payment_failure_now()
        _emit_updated(subscription, before)
        return json_response(subscription._export())


def _invoices_of(subscription: Subscription) -> list[Invoice]:
    return Invoice._api_list_all(None, customer=subscription.customer, subscription=subscription.id, limit=99)._list


def install_routes(app: web.Application) -> None:
    app.router.add_post("/_test/subscriptions/{id}/renew", renew)
