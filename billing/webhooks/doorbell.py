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
every batch publishes."""

import functools

import redis
from celery import current_app
from django.conf import settings

KEY = "billing:webhooks:doorbell"


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _store() -> redis.Redis | None:
    app = current_app
    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return _client(url)


def doorbell_ring() -> bool:
    """True when the caller must publish a message (no message outstanding, or no doorbell to share)."""
    store = _store()
    if store is None:
        return True
    return bool(store.set(KEY, 1, nx=True, px=settings.WEBHOOK_DOORBELL_TTL_MS))


def doorbell_answer() -> None:
    """A worker took the message: deliveries from now on ring again. Called before it claims."""
    store = _store()
    if store is not None:
        store.delete(KEY)
