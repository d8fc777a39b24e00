"""The product's one backoff: how long to wait before trying again, for calls to Stripe that failed in a way
worth retrying (429, 5xx, unreachable: billing/stripe/sync.py) and for webhook events whose handler failed
(billing/webhooks/processing.py)."""

import random
from collections.abc import Callable


def backoff_delay(
    retries: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rand: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait before retry number `retries + 1`: exponential backoff with full jitter (a uniform draw in
    [0, min(cap, base * 2**retries)]), so that many workers hit by one outage or rate limit do not come back
    together. Stripe's Retry-After, when given, is a floor: retrying sooner would only be refused again.
    `rand` draws in [0, 1) (default: the `random` module's draw, looked up at each call)."""
    ceiling = min(cap, base * (2 ** max(retries, 0)))
    delay = (rand or random.random)() * ceiling
    if retry_after is not None and retry_after > delay:
        delay = float(retry_after)
    return delay
