"""Events: those of the objects localstripe does not know, and the webhook deliveries of all of them.

An emitted event lands in localstripe's store (so `GET /v1/events` lists it, for the caller's account only) and
goes through localstripe's own delivery, which signs it with each registered endpoint's secret in Stripe's
`Stripe-Signature` format (`stripe.Webhook.construct_event` verifies it) and posts it about a second later.

That second is why deliveries are tracked: localstripe reads the endpoints when it posts, not when the event
happens, so without cancelling them on reset, a test's last events would reach the endpoint the next test has
just registered.
"""

import asyncio

import localstripe.resources
from localstripe.resources import Event, StripeObject
from localstripe.webhooks import _send_webhook

_pending: set[asyncio.Future] = set()


def _schedule_delivery(event: Event) -> None:
    delivery = asyncio.ensure_future(_send_webhook(event))
    _pending.add(delivery)
    delivery.add_done_callback(_pending.discard)


def emit(event_type: str, obj: StripeObject) -> Event:
    event = Event(event_type, obj)
    _schedule_delivery(event)
    return event


def cancel_pending_deliveries() -> None:
    for delivery in list(_pending):
        delivery.cancel()


def install() -> None:
    """localstripe's objects schedule their events through this module-level name."""
    localstripe.resources.schedule_webhook = _schedule_delivery
