"""`Stripe-Account` isolation: each connected account (and the platform) sees only its own objects.

localstripe keeps one store for everyone and ignores the header. The middleware puts the caller's account in a
context variable for the request; localstripe's store records that account as the owner of every object created
while it is set, including the invoices, charges and events a request creates as side effects, which is why
ownership is taken at the store rather than from response ids. Retrieval by id (which localstripe also uses to
check ids given as parameters) answers 404 `resource_missing` for another account's object, and lists are filtered
before localstripe paginates them, so `has_more` and `starting_after` stay right.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Event, Store, StripeObject, store

from localdev.fake_stripe.errors import error_response, no_such

_current_account: contextvars.ContextVar[str | None] = contextvars.ContextVar("stripe_account", default=None)

# store key ("customer:cus_...") -> owning account id, None for the platform
_owners: dict[str, str | None] = {}


def current_account() -> str | None:
    return _current_account.get()


@contextmanager
def acting_as(account: str | None) -> Iterator[None]:
    """Runs a block as `account`, for control routes that act on behalf of an object's owner."""
    token = _current_account.set(account)
    try:
        yield
    finally:
        _current_account.reset(token)


def owner_of(obj: StripeObject) -> str | None:
    return _owners.get(f"{obj.object}:{obj.id}")


def find_unchecked(object_name: str, object_id: str) -> StripeObject | None:
    """The object whoever owns it; only for control routes, which have no account of their own."""
    return store.get(f"{object_name}:{object_id}")


def reset() -> None:
    _owners.clear()


def _visible(key: str) -> bool:
    return _owners.get(key) == _current_account.get()


@web.middleware
async def isolation_middleware(request: web.Request, handler):
    account = request.headers.get("Stripe-Account") or None
    if account is not None and not account.startswith("acct_"):
        return error_response(400, f"Invalid Stripe-Account header: {account!r} is not an account id.")
    with acting_as(account):
        return await handler(request)


def install() -> None:
    """Wraps localstripe's store and base class. Call once per process."""
    original_setitem = Store.__setitem__
    original_delitem = Store.__delitem__
    original_retrieve = StripeObject._api_retrieve.__func__
    original_delete = StripeObject._api_delete.__func__
    original_list_all = StripeObject._api_list_all.__func__
    original_event_init = Event.__init__

    def recording_setitem(self, key, value):
        if key not in self:  # a re-created custom id (plan "gold" after a flush) gets its new owner
            _owners[key] = _current_account.get()
        original_setitem(self, key, value)

    def forgetting_delitem(self, key):
        original_delitem(self, key)
        _owners.pop(key, None)

    def visible_retrieve(cls, id):
        # Same 404 for "absent" and "someone else's", as real Stripe: nothing leaks across accounts.
        try:
            obj = original_retrieve(cls, id)
        except UserError as error:
            if error.code == 404:
                raise no_such(cls.object, id) from None
            raise
        if not _visible(f"{cls.object}:{id}"):
            raise no_such(cls.object, id)
        return obj

    def visible_delete(cls, id):
        visible_retrieve(cls, id)
        return original_delete(cls, id)

    def visible_list_all(cls, url, limit=None, starting_after=None, **kwargs):
        page = original_list_all(cls, url, limit=limit, starting_after=starting_after, **kwargs)
        page._list = [obj for obj in page._list if _visible(f"{obj.object}:{obj.id}")]
        return page

    def event_init(self, type, data):
        original_event_init(self, type, data)
        # Real Stripe marks a connected account's events with it; Connect webhook handlers route on it.
        if _current_account.get() is not None:
            self.account = _current_account.get()

    Store.__setitem__ = recording_setitem
    Store.__delitem__ = forgetting_delitem
    StripeObject._api_retrieve = classmethod(visible_retrieve)
    StripeObject._api_delete = classmethod(visible_delete)
    StripeObject._api_list_all = classmethod(visible_list_all)
    Event.__init__ = event_init
