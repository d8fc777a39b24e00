"""The webhook handler registry: (relationship, event type) → handler.

Apps register their handlers with the decorator from their `AppConfig.ready()` (billing's are in
billing/handlers.py); the registry imports no app, so any app can fill it:

    @handles(Relationship.ACCOUNT, "customer.created", "customer.updated")
    def mirror_customer(event: WebhookEvent) -> None: ...

A type may end in `.*` to cover a family (`"invoice.*"`); an exact type wins over a family, and the longest
family wins over a shorter one (`charge.dispute.*` over `charge.*`). The relationship is part of the key,
never a fallback: an account event can only reach an account handler, a platform event only a platform
handler.

A handler runs inside the transaction that marks its event processed: it must not call Stripe, it queues work
with `core.queue.enqueue_on_commit` (sent only once that transaction commits), and it raises to fail the attempt.

A handler may also carry a batch form, `handler.apply_many(pairs)`, which a worker calls once with the (handler,
event) pairs of all the events of its batch whose handlers carry that same function (several handlers may share
one; each event's handler is looked up once): it must have the same effect as calling each event's handler on
it. If it raises, the events are handled one by one, so that the one at fault fails alone (billing/handlers.py's
mirror handlers share one).
"""

from collections.abc import Callable

from billing.relationships import Relationship

# Takes the stored event (billing.models.WebhookEvent, not imported: the registry imports no app).
Handler = Callable[..., None]

RELATIONSHIPS = tuple(Relationship.values)

_registry: dict[tuple[str, str], Handler] = {}


class DuplicateHandler(RuntimeError):
    """Two handlers for one (relationship, type): the second would silently shadow the first."""


def handles(relationship: str, *event_types: str) -> Callable[[Handler], Handler]:
    if relationship not in RELATIONSHIPS:
        raise ValueError(f"Unknown relationship {relationship!r}: one of {RELATIONSHIPS}.")
    if not event_types:
        raise ValueError("handles() needs at least one event type.")

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            key = (relationship, event_type)
            existing = _registry.get(key)
            if existing is not None and existing is not handler:
                where = f"{existing.__module__}.{existing.__qualname__}"
                raise DuplicateHandler(f"{relationship} {event_type} is already handled by {where}")
            _registry[key] = handler
        return handler

    return register


def handler_for(relationship: str, event_type: str) -> Handler | None:
    """The handler for this event, or None (the event is then recorded as ignored)."""
    handler = _registry.get((relationship, event_type))
    if handler is not None:
        return handler
    # Families, longest first: "charge.dispute.created" tries "charge.dispute.*", then "charge.*".
    parts = event_type.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        handler = _registry.get((relationship, ".".join(parts[:cut]) + ".*"))
        if handler is not None:
            return handler
    return None


def registered(relationship: str | None = None) -> dict[tuple[str, str], Handler]:
    """A copy of the registry (for the admin, docs and tests)."""
    return {key: h for key, h in _registry.items() if relationship is None or key[0] == relationship}


def unregister(relationship: str, event_type: str) -> None:
    """Tests only: remove a handler they registered."""
    _registry.pop((relationship, event_type), None)
