"""The webhook workers' doorbell: intake rings, a worker answers (docs/webhooks.md, "Waking the workers").

Stored events wait in the database, and a worker claims them itself, oldest first, up to WEBHOOK_BATCH_MAX
(billing/webhooks/processing.py). A Celery message only wakes a worker, so one unanswered message is enough:
intake publishes one only when `doorbell_ring()` finds none outstanding, a key in the broker's Redis set if absent, and
the worker that takes the message deletes the key (`doorbell_answer()`) right before it claims. No event is left
behind:
- intake commits its events and only then rings. If the key was there, the message that set it has not been
  answered: the worker answering it deletes the key, then claims, and sees these events (committed before
  the ring, so before the delete). After the delete, the next batch rings again.
- a worker whose claim took all it could (WEBHOOK_BATCH_MAX in all) publishes another message at once: more may
  be waiting;
- the key expires after WEBHOOK_DOORBELL_TTL_MS, so a lost message costs at most that long before the next
  delivery rings again; and the sweeper still enqueues whatever waits past its grace.
Publishing through Celery costs a web process more than storing a few events; the doorbell turns a hundred
messages a second into a few (bench/webhooks.py). Without a Redis broker, or with eager tasks (tests, scripts),
every batch publishes.

Redis down or hung: intake must keep acknowledging at its usual latency, so the doorbell never makes a batch wait
long on Redis. Its calls time out after WEBHOOK_DOORBELL_TIMEOUT_MS, without the client's own retries, and a
failure opens a breaker for WEBHOOK_DOORBELL_BREAKER_SECONDS: meanwhile `doorbell_ring()` answers False at once
(nothing is published: the publish would wait on the same Redis) and `doorbell_answer()` does nothing. The
events are committed before the ring, each with a deadline (`next_attempt_at`), so the sweeper enqueues them
once Redis is back; the first ring after the breaker closes wakes a worker, which claims every pending event."""

import functools
import logging
import time

import redis
from celery import current_app
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

KEY = "billing:webhooks:doorbell"
# Per broker URL, the monotonic time until which its breaker stays open (per process: each web process finds
# out for itself).
_open_until: dict[str, float] = {}


@functools.lru_cache(maxsize=4)
def _client(url: str, timeout: float) -> redis.Redis:
    # No retries inside the client (redis-py retries 3 times with backoff by default): one short try, then the
    # breaker.
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def _url() -> str | None:
    app = current_app
    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return url


def _store(url: str) -> redis.Redis:
    return _client(url, settings.WEBHOOK_DOORBELL_TIMEOUT_MS / 1000)


def doorbell_breaker_open() -> bool:
    """Whether a recent failure of the broker's Redis makes the doorbell skip it for now."""
    url = _url()
    return url is not None and time.monotonic() < _open_until.get(url, 0.0)


def _trip(url: str, exc: Exception) -> None:
    _open_until[url] = time.monotonic() + settings.WEBHOOK_DOORBELL_BREAKER_SECONDS
    logger.warning(
        "Webhook doorbell: Redis unavailable (%s: %s); not ringing for %ss, the sweeper enqueues the events meanwhile",
        exc.__class__.__name__,
        exc,
        settings.WEBHOOK_DOORBELL_BREAKER_SECONDS,
    )


def doorbell_ring() -> bool:
    """True when the caller must publish a message (no message outstanding, or no doorbell to share). False
    too while Redis is unavailable (the breaker): no message could go out, the sweeper covers the events."""
    url = _url()
    if url is None:
        return True
    if doorbell_breaker_open():
        return False
    try:
        return bool(_store(url).set(KEY, 1, nx=True, px=settings.WEBHOOK_DOORBELL_TTL_MS))
    except redis.RedisError as exc:
        _trip(url, exc)
        return False


def doorbell_answer() -> None:
    """A worker took the message: deliveries from now on ring again. Called before it claims (or by intake when
    its publish failed). With Redis unavailable it does nothing: the key expires on its own."""
    url = _url()
    if url is None or doorbell_breaker_open():
        return
    try:
        _store(url).delete(KEY)
    except redis.RedisError as exc:
        _trip(url, exc)
