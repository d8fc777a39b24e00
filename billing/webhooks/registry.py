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

One event may matter to several apps (a paid payment intent keeps billing's mirror in step and fulfils a
marketplace purchase; a completed platform checkout is a plan subscription or an extras pack). The handler is
one owner's; another app adds a *listener* with `@listens(relationship, *types)`: it runs after the handler (if
any), in the same savepoint, on every event that handler gets, so either both effects land or neither. Listeners
follow the same rules as handlers and pick the events they care about themselves (a listener for
`checkout.session.completed` returns early for sessions that are not its kind). An event with a listener is
handled on its own, outside any batch form (its handler's `apply_many` is not used for it).
"""

import functools
from collections.abc import Callable

from billing.relationships import Relationship

# Takes the stored event (billing.models.WebhookEvent, not imported: the registry imports no app).
Handler = Callable[..., None]

RELATIONSHIPS = tuple(Relationship.values)

_registry: dict[tuple[str, str], Handler] = {}
_listeners: dict[tuple[str, str], list[Handler]] = {}


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


def listens(relationship: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Adds a listener: run after the handler of these types (see the module's docstring). A type may be a family."""
    if relationship not in RELATIONSHIPS:
        raise ValueError(f"Unknown relationship {relationship!r}: one of {RELATIONSHIPS}.")
    if not event_types:
        raise ValueError("listens() needs at least one event type.")

    def register(listener: Handler) -> Handler:
        for event_type in event_types:
            listeners = _listeners.setdefault((relationship, event_type), [])
            if listener not in listeners:
                listeners.append(listener)
        return listener

    return register


def _keys(relationship: str, event_type: str) -> list[tuple[str, str]]:
    """The registry keys an event matches, most specific first: the exact type, then its families, longest
    first ("charge.dispute.created", "charge.dispute.*", "charge.*")."""
    parts = event_type.split(".")
    families = [(relationship, ".".join(parts[:cut]) + ".*") for cut in range(len(parts) - 1, 0, -1)]
    return [(relationship, event_type), *families]


def handler_for(relationship: str, event_type: str) -> Handler | None:
    """What runs for this event: its handler followed by its listeners, or None (the event is then recorded as
    ignored)."""
    keys = _keys(relationship, event_type)
    handler = next((_registry[key] for key in keys if key in _registry), None)
    listeners = tuple(listener for key in keys for listener in _listeners.get(key, ()))
    if not listeners:
        return handler
    return _with_listeners(handler, listeners)


@functools.cache
def _with_listeners(handler: Handler | None, listeners: tuple[Handler, ...]) -> Handler:
    # Cached so that one (handler, listeners) pair is one function, whichever event asks.
    def run(event) -> None:
        if handler is not None:
            handler(event)
        for listener in listeners:
            listener(event)

    names = [getattr(f, "__qualname__", type(f).__name__) for f in ((handler,) if handler else ()) + listeners]
    run.__name__ = run.__qualname__ = " + ".join(names)
    run.handler, run.listeners = handler, listeners
    if hasattr(handler, "apply_many"):
        # The handler's batch form still applies its events together; the listeners then run per event.
        run.apply_many = _listening_batch_form(handler.apply_many)
    return run


@functools.cache
def _listening_batch_form(apply_many: Callable) -> Callable:
    """A batch form over (handler with listeners, event) pairs: the handlers' shared batch form on the handlers'
    pairs, then each event's listeners. One per batch form, so that a batch's events whose handlers share a batch
    form stay together whichever listeners they have."""

    def apply_with_listeners(pairs) -> None:
        apply_many([(run.handler, event) for run, event in pairs])
        for run, event in pairs:
            for listener in run.listeners:
                listener(event)

    apply_with_listeners.__name__ = f"{getattr(apply_many, '__name__', 'apply_many')} + listeners"
    return apply_with_listeners


def registered(relationship: str | None = None) -> dict[tuple[str, str], Handler]:
    """A copy of the registry (for the admin, docs and tests)."""
    return {key: h for key, h in _registry.items() if relationship is None or key[0] == relationship}


def listeners(relationship: str | None = None) -> dict[tuple[str, str], list[Handler]]:
    """A copy of the listeners (for the admin, docs and tests)."""
    return {key: list(ls) for key, ls in _listeners.items() if relationship is None or key[0] == relationship}


def unregister(relationship: str, event_type: str) -> None:
    """Tests only: remove a handler they registered."""
    _registry.pop((relationship, event_type), None)


def unlisten(relationship: str, event_type: str, listener: Handler) -> None:
    """Tests only: remove a listener they added."""
    listeners = _listeners.get((relationship, event_type), [])
    if listener in listeners:
        listeners.remove(listener)
