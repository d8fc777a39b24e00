"""Events for the objects localstripe does not know, recorded and delivered exactly like its own.

The event lands in localstripe's store (so `GET /v1/events` lists it, for the caller's account only) and goes
through localstripe's webhook delivery, which signs it with each registered endpoint's secret in Stripe's
`Stripe-Signature` format (`stripe.Webhook.construct_event` verifies it) and posts it about a second later.
"""

from localstripe.resources import Event, StripeObject
from localstripe.webhooks import schedule_webhook


def emit(event_type: str, obj: StripeObject) -> Event:
    event = Event(event_type, obj)
    schedule_webhook(event)
    return event
