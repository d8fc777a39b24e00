"""Signing test deliveries as Stripe does: `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256("t.payload")>`."""

import hashlib
import hmac
import itertools
import json
import time

_sequence = itertools.count(1)


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def make_event(
    event_type: str,
    obj: dict,
    *,
    event_id: str | None = None,
    created: int | None = None,
    account: str | None = None,
    previous_attributes: dict | None = None,
) -> dict:
    """A Stripe event envelope around `obj` (today's shape)."""
    event = {
        "id": event_id or f"evt_test_{next(_sequence):08d}_{int(time.time() * 1000)}",
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if previous_attributes is not None:
        event["data"]["previous_attributes"] = previous_attributes
    if account:
        event["account"] = account
    return event


def signed_delivery(event: dict, secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict]:
    """Body and headers for a POST of `event`, as Stripe would send it."""
    body = json.dumps(event).encode()
    return body, {"HTTP_STRIPE_SIGNATURE": sign(body, secret, timestamp=timestamp)}
