"""Webhook intake (SPEC §3): verify the signature, store the event once, enqueue its processing after commit.

This is what runs while Stripe waits for our answer, so it does the least that makes the event safe: no Stripe
call, no handler. It works on a *batch* of deliveries (one, from the Django view; as many as arrived together,
from the ASGI intake in billing/api/webhook_asgi.py): the signing secrets kept for a few seconds, one insert
statement per batch and at most one message to wake a worker (billing/webhooks/doorbell.py), so the
cost per event stays small at a thousand deliveries a second. The event is committed before anyone answers 2xx.

Exactly-once comes from the unique constraints on WebhookEvent: the batch is one `INSERT ... ON CONFLICT DO
NOTHING RETURNING`, so the database itself says which rows it stored and which were already there (an earlier
delivery, or a concurrent one in another process): never a read-then-write race, never a lost event. A repeat
within the batch is dropped before the insert.
"""

import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from billing.models import WebhookEvent
from billing.relationships import Relationship
from billing.webhooks import doorbell, envelope
from billing.webhooks.verification import (
    connect_route,
    connected_accounts,
    delivery_verify,
    signing_secrets_lookup,
)
from core import errors
from core.db.sqlite_write_lock import polling_write_lock
from core.queue import enqueue

logger = logging.getLogger(__name__)

# The worker task that intake's doorbell wakes (billing/tasks.py), sent by name.
PROCESS_EVENTS_TASK = "billing.process_webhook_events"


@dataclass(frozen=True)
class Delivery:
    """One POST as received: the raw body, its Stripe-Signature header, and the account of the endpoint
    (None: the platform endpoint)."""

    payload: bytes
    signature: str | None
    account_id: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What intake did with one delivery: the rows stored (one per account it is routed to), duplicates."""

    stripe_event_id: str
    stored: tuple[int, ...]
    duplicates: int

    @property
    def duplicate(self) -> bool:
        return not self.stored and self.duplicates > 0

    def reply(self) -> dict:
        """The body of the 2xx answer to Stripe (both endpoints, ASGI and DRF)."""
        return {"received": True, "event_id": self.stripe_event_id, "duplicate": self.duplicate}


def webhook_receive_account(*, account_id: str, payload: bytes, signature: str | None) -> Receipt:
    """A delivery on the account's own endpoint, verified with its connection's signing secret.
    Raises InvalidInput (400) for an unknown account, a missing secret, a bad signature or body."""
    return _one(Delivery(payload=payload, signature=signature, account_id=str(account_id)))


def webhook_receive_platform(*, payload: bytes, signature: str | None) -> Receipt:
    """A delivery on the platform endpoint, verified with settings.STRIPE_WEBHOOK_SECRET. An event that names
    a connected account (`account`, Connect) belongs to that account's relationship, never the platform's."""
    return _one(Delivery(payload=payload, signature=signature))


def _one(delivery: Delivery) -> Receipt:
    (result,) = webhook_receive_batch(deliveries=[delivery])
    if isinstance(result, errors.AppError):
        raise result
    return result


def webhook_receive_batch(*, deliveries: Sequence[Delivery]) -> list[Receipt | errors.AppError]:
    """Verifies and stores a batch of deliveries; answers, in order, each one's Receipt or the AppError (400)
    that refuses it. A refused delivery stores nothing, and nothing one delivery holds affects the others: its
    envelope is checked on its own (billing/webhooks/envelope.py), any other failure of its own becomes its 400
    (`webhook_event_refused`), and a batch insert the database still refuses is retried one delivery at a time.
    Raises only what concerns the whole batch: the database unavailable (callers answer 503)."""
    results: list = [None] * len(deliveries)
    secrets = signing_secrets_lookup({d.account_id for d in deliveries if d.account_id is not None})
    verified: list[tuple[int, dict, uuid.UUID | None]] = []  # (index, stored fields, account of the endpoint)
    for index, delivery in enumerate(deliveries):
        try:
            event, owner = delivery_verify(delivery, secrets)
            verified.append((index, envelope.event_fields(payload=delivery.payload, event=event), owner))
        except Exception as exc:  # noqa: BLE001 - one delivery's fault is its own 400; an outage is raised
            results[index] = _refusal(exc)
    connect_ids = {fields["payload"].get("account") for _, fields, owner in verified if owner is None}
    routes = connected_accounts(connect_ids - {None})

    rows: list[tuple[int, WebhookEvent]] = []
    now = timezone.now()
    for index, fields, owner in verified:
        try:
            connected = fields["payload"].get("account")
            fields = {**fields, "payload": RawJSON(deliveries[index].payload.decode())}
            if owner is not None:
                targets = [(Relationship.ACCOUNT, owner)]
            elif connected:
                targets = [(Relationship.ACCOUNT, pk) for pk in connect_route(connected, routes)]
            else:
                targets = [(Relationship.PLATFORM, None)]
            delivery_rows = [(index, _row(fields, relationship, pk, now)) for relationship, pk in targets]
        except Exception as exc:  # noqa: BLE001 - as above
            results[index] = _refusal(exc)
            continue
        results[index] = fields["stripe_event_id"]
        rows.extend(delivery_rows)

    stored, refused = _store_batch(rows)
    stored_by_delivery: dict[int, list[int]] = {}
    for index, pk in stored:
        stored_by_delivery.setdefault(index, []).append(pk)
    results = [refused.get(index, result) for index, result in enumerate(results)]
    routed = Counter(index for index, _ in rows)
    for index, result in enumerate(results):
        if isinstance(result, str):
            mine = tuple(stored_by_delivery.get(index, ()))
            results[index] = Receipt(stripe_event_id=result, stored=mine, duplicates=routed[index] - len(mine))
            if routed[index] > len(mine):
                logger.info("Duplicate delivery of %s ignored", result)
        else:
            _log_refused(deliveries[index], result)
    return results


def _refusal(exc: Exception) -> errors.AppError:
    """One delivery's failure as its answer: an AppError as it is, anything else its 400 with a stable code. The
    database being unavailable concerns every delivery of the batch: that is raised again (503)."""
    if isinstance(exc, errors.AppError):
        return exc
    if isinstance(exc, RecursionError):  # the JSON parser's own limit (billing/stripe/client.py parses)
        return envelope.too_deep()
    if _is_outage(exc):
        raise exc
    refused = errors.InvalidInput(
        "This delivery could not be accepted; it was refused on its own and nothing was stored.",
        code="webhook_event_refused",
    )
    refused.cause = type(exc).__name__  # logged, never answered: it may describe our internals
    return refused


def _log_refused(delivery: Delivery, error: errors.AppError) -> None:
    # Who and why, for the account's support: never the body (a tenant's data) nor a header (a signature).
    given = delivery.account_id
    account = "".join(c if c.isprintable() else "?" for c in given[:64]) if given is not None else "platform"
    logger.warning(
        "Webhook delivery refused: account=%s code=%s reason=%s%s",
        account,
        error.code,
        error.details.get("reason", "-"),
        f" cause={error.cause}" if getattr(error, "cause", None) else "",
    )


def webhook_event_store(*, event: dict, relationship: str, account: Account | None) -> Receipt:
    """Stores an event that did not come through an endpoint (a replay of an event we never received)."""
    return webhook_events_store(events=[event], relationship=relationship, account=account)[0]


def webhook_events_store(*, events: Sequence[dict], relationship: str, account: Account | None) -> list[Receipt]:
    """Stores events fetched from Stripe's API rather than delivered (a replay, the Events API backfill): the same
    rows, the same one insert and the same processing as a delivery, so an event is stored once however it came."""
    now = timezone.now()
    account_id = account.pk if account else None
    rows = [
        (index, _row(envelope.event_fields(payload=b"", event=event), relationship, account_id, now))
        for index, event in enumerate(events)
    ]
    stored = dict(_store(rows))
    return [
        Receipt(
            stripe_event_id=row.stripe_event_id,
            stored=(stored[index],) if index in stored else (),
            duplicates=0 if index in stored else 1,
        )
        for index, row in rows
    ]


# --- storing ---------------------------------------------------------------------------------------------------


def _row(fields: dict, relationship: str, account_id, now) -> WebhookEvent:
    return WebhookEvent(
        **fields,
        relationship=relationship,
        account_id=account_id,
        received_at=now,
        # If its Celery message is lost, the sweeper picks it up after this.
        next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
    )


def _key(relationship: str, account_id, stripe_event_id: str) -> tuple:
    """What the unique constraints compare (the account only on the account side)."""
    account = uuid.UUID(str(account_id)) if account_id and relationship == Relationship.ACCOUNT else None
    return relationship, account, stripe_event_id


def _store(rows: list[tuple[int, WebhookEvent]]) -> list[tuple[int, int]]:
    """Inserts the rows that are not stored yet; answers (delivery index, pk) of those it stored, and has
    their processing enqueued once they are committed. A repeat within the batch is a duplicate too: the
    first delivery of an event stores it."""
    fresh, seen = [], set()
    for index, row in rows:
        key = _key(row.relationship, row.account_id, row.stripe_event_id)
        if key not in seen:
            seen.add(key)
            fresh.append((index, row, key))
    if not fresh:
        return []
    # Rows in one order, the unique key's: two processes inserting overlapping batches then take the index
    # entries' locks in the same order and one waits for the other, where batches in arrival order could each
    # hold what the other needs (PostgreSQL "deadlock detected", seen in test_concurrency under CI load).
    fresh.sort(key=lambda item: (item[2][0], str(item[2][1] or ""), item[2][2]))

    def insert() -> list[tuple[int, int]]:
        with transaction.atomic():
            inserted = {_key(*returned[1:]): returned[0] for returned in _insert_new([row for _, row, _ in fresh])}
            stored = [(index, inserted[key]) for index, _, key in fresh if key in inserted]
            _enqueue_on_commit([pk for _, pk in stored])
        return stored

    # SQLite: a delivery waits for a worker's transaction to end; waiting in small steps rather than in the busy
    # handler's (up to 100 ms) keeps that wait the lock's hold (core/db/sqlite_write_lock.py). A repeat is safe:
    # a failed attempt committed nothing and woke no one.
    return polling_write_lock(insert)


def _store_batch(rows: list[tuple[int, WebhookEvent]]) -> tuple[list[tuple[int, int]], dict[int, errors.AppError]]:
    """`_store`, and if the database refuses the batch's one insert (a value the envelope check let through),
    each delivery's rows again in a savepoint of their own: only the delivery at fault is refused. Answers the
    (delivery index, pk) stored and the refusals by delivery index; raises if the database is unavailable."""
    try:
        return _store(rows), {}
    except Exception as exc:  # noqa: BLE001 - sorted out below
        if _is_outage(exc):
            raise
        logger.warning("Webhook intake batch refused (%s): storing its deliveries one by one", type(exc).__name__)
    by_delivery: dict[int, list[WebhookEvent]] = {}
    for index, row in rows:
        by_delivery.setdefault(index, []).append(row)

    def insert_one_by_one() -> tuple[list[tuple[int, int]], dict[int, errors.AppError]]:
        stored, refused = [], {}
        with transaction.atomic():
            for index, delivery_rows in by_delivery.items():
                try:
                    with transaction.atomic():  # a savepoint: a refused row leaves the others' transaction usable
                        stored.extend((index, returned[0]) for returned in _insert_new(delivery_rows))
                except Exception as exc:  # noqa: BLE001 - a refused row is its delivery's 400; an outage is raised
                    refused[index] = _refusal(exc)
            _enqueue_on_commit([pk for _, pk in stored])
        return stored, refused

    return polling_write_lock(insert_one_by_one)


# PostgreSQL error classes that say the database, not the row, failed: connection (08), resources (53),
# operator intervention such as pg_terminate_backend or a statement timeout (57), system (58), a transaction to
# retry (40), a lock not obtained in time (55).
_OUTAGE_SQLSTATE_CLASSES = {"08", "40", "53", "55", "57", "58"}


def connection_lost(exc: BaseException) -> bool:
    """Whether a database error says the connection itself is gone (the server ended it, the network dropped
    it), so that a new connection may well succeed: PostgreSQL's connection class (08), an administrator's or a
    crash's shutdown of the backend (57P01-57P03), or the driver finding the socket closed."""
    if connection.vendor != "postgresql":
        return False  # SQLite has no connection to lose
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate[:2] == "08" or sqlstate in {"57P01", "57P02", "57P03"}


def _is_outage(exc: BaseException) -> bool:
    """Whether a failure is the database's (every delivery answers 503, Stripe delivers again) rather than one
    row's (that delivery answers 400)."""
    if not isinstance(exc, DatabaseError):
        return False  # e.g. a value the driver cannot convert: the row's
    if connection.vendor == "postgresql":
        if isinstance(exc, InterfaceError):  # psycopg: the connection is closed
            return True
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        if sqlstate is None:  # raised by the driver itself: a lost connection, or a value it cannot send
            return isinstance(exc, OperationalError)
        return sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES
    # SQLite: locked, I/O, no file; a refused value is an IntegrityError, a value it cannot bind an InterfaceError
    return isinstance(exc, OperationalError)


def _insert_new(rows: list[WebhookEvent]) -> list[tuple]:
    """One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING`: stores the rows no unique constraint
    already holds and answers (pk, relationship, account, event id) of those it stored. The database decides
    what is a duplicate, atomically, even against another process's concurrent insert: no read-then-write.

    Raw SQL because the ORM cannot say it: `bulk_create(ignore_conflicts=True)` does not tell which rows it
    stored. The values still go through each field's own conversion, as the ORM's inserts do. SQLite (3.35+)
    and PostgreSQL both accept it."""
    meta = WebhookEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    values = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = ", ".join(
        quote(meta.get_field(name).column) for name in ("id", "relationship", "account", "stripe_event_id")
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([values] * len(rows))} ON CONFLICT DO NOTHING RETURNING {returning}"
    )
    params = [_db_value(f, row) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class RawJSON(str):
    """A delivery's body as it arrived, stored as the event's payload without being encoded again (it is valid
    JSON: it was parsed to be verified)."""


def _db_value(field, row: WebhookEvent):
    value = field.pre_save(row, True)
    if isinstance(value, RawJSON):
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(value, dumps=str)
        return str(value)
    return field.get_db_prep_save(value, connection)


def _enqueue_on_commit(pks: list[int]) -> None:
    if not pks:
        return
    # robust: the events are committed; if the broker is down, the sweeper enqueues them later
    # (next_attempt_at), and the deliveries are still acknowledged.
    transaction.on_commit(lambda: _wake_workers(pks), robust=True)


def _wake_workers(pks: list[int]) -> None:
    """After commit: a message for a worker, unless one is already on its way (billing/webhooks/doorbell.py).
    The message names these events (a worker claims them with the other pending ones) and when they were stored
    (it lets the batch gather from then: processing.batch_wait)."""
    if not doorbell.doorbell_ring():
        return
    try:
        enqueue(PROCESS_EVENTS_TASK, pks, time.time())
    except Exception:
        doorbell.doorbell_answer()  # no message went out: let the next batch ring
        raise
