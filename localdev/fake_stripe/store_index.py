"""Lists read one object type, and a customer's objects, not the whole store.

localstripe keeps every object in one dict keyed "object:id", and its base `_api_list_all` scans all of it for
each list call; the lists filtered by customer then scan every object of the type again (and exporting a
customer lists its subscriptions that way). At 10,000 customers and 100,000 objects (bench/sync.py) a page of
customers took seconds and seeding took hours. So:

- one insertion-ordered dict per object type beside the store, kept in step by the store's own writes, answers
  the base list: the same objects in the same (creation) order;
- during a GET request, a list filtered by `customer` starts from that customer's objects only, grouped once
  and kept until the store is written or another request than a GET begins or ends: a POST may move an object
  to another customer (attaching a card) without writing the store. Only GETs use the grouping, but for
  subscriptions (NARROWED_ALWAYS).

localstripe's and this package's own checks and filters still run on what the base list answers, so the
results are the ones the full scan gave. Install before isolation.py, which wraps the base list this replaces;
`install_customer_narrowing` after every module that replaces a list (server.build_app).
"""

import contextvars

from aiohttp import web
from localstripe.resources import (
    Charge,
    Invoice,
    InvoiceItem,
    List,
    PaymentMethod,
    Store,
    StripeObject,
    Subscription,
    UserError,
    store,
)

# object name ("customer") -> {store key: object}, in insertion order like the store itself
_by_object: dict[str, dict[str, StripeObject]] = {}
# Bumped by every store write, and when a request other than a GET begins and ends: a grouping made before is
# stale.
_version = [0]
# object name -> (version, {customer id: [objects]})
_groupings: dict[str, tuple[int, dict]] = {}
_in_get: contextvars.ContextVar[bool] = contextvars.ContextVar("store_index_in_get", default=False)
# Set by a customer-filtered list for its base list: (object name, customer id).
_narrow: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("store_index_narrow", default=None)

NARROWED = (Subscription, PaymentMethod, Invoice, InvoiceItem, Charge)
# A subscription's customer is set before anything else is written and never changes: its lists are narrowed
# in every request (exporting a customer, which every customer event does, lists its subscriptions).
NARROWED_ALWAYS = (Subscription,)


def _object_name(key: str) -> str:
    return key.partition(":")[0]


def objects_of(object_name: str) -> list[StripeObject]:
    return list(_by_object.get(object_name, {}).values())


def _customer_objects(object_name: str, customer: str) -> list[StripeObject]:
    version, by_customer = _groupings.get(object_name, (None, {}))
    if version != _version[0]:
        by_customer = {}
        for obj in _by_object.get(object_name, {}).values():
            by_customer.setdefault(getattr(obj, "customer", None), []).append(obj)
        _groupings[object_name] = (_version[0], by_customer)
    return list(by_customer.get(customer, ()))


@web.middleware
async def groupings_middleware(request: web.Request, handler):
    if request.method == "GET":
        token = _in_get.set(True)
        try:
            return await handler(request)
        finally:
            _in_get.reset(token)
    _version[0] += 1
    try:
        return await handler(request)
    finally:
        _version[0] += 1


def install() -> None:
    """Wraps the store's writes and the base list. Call once per process."""
    original_setitem = Store.__setitem__
    original_delitem = Store.__delitem__
    original_clear = Store.clear

    def indexed_setitem(self, key, value):
        original_setitem(self, key, value)
        if self is store:
            _by_object.setdefault(_object_name(key), {})[key] = value
            _version[0] += 1

    def indexed_delitem(self, key):
        original_delitem(self, key)
        if self is store:
            _by_object.get(_object_name(key), {}).pop(key, None)
            _version[0] += 1

    def indexed_clear(self):
        original_clear(self)
        if self is store:
            _by_object.clear()
            _groupings.clear()
            _version[0] += 1

    def indexed_list_all(cls, url, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        page = List(url, limit=limit, starting_after=starting_after)
        narrow = _narrow.get()
        if narrow and narrow[0] == cls.object:
            page._list = _customer_objects(cls.object, narrow[1])
        else:
            page._list = objects_of(cls.object)
        return page

    Store.__setitem__ = indexed_setitem
    Store.__delitem__ = indexed_delitem
    Store.clear = indexed_clear
    StripeObject._api_list_all = classmethod(indexed_list_all)
    _by_object.clear()
    for key, value in dict.items(store):  # whatever is there already (nothing, in a fresh process)
        _by_object.setdefault(_object_name(key), {})[key] = value


def install_customer_narrowing(app: web.Application) -> None:
    """Wraps the customer-filtered lists as they are once every module has replaced its own."""
    for cls in NARROWED:
        cls._api_list_all = classmethod(_narrowing(cls._api_list_all.__func__, always=cls in NARROWED_ALWAYS))
    app.middlewares.insert(0, groupings_middleware)


def _narrowing(list_all, *, always: bool):
    def narrowed_list_all(cls, url, *args, customer=None, **kwargs):
        if not isinstance(customer, str) or not (always or _in_get.get()):
            return list_all(cls, url, *args, customer=customer, **kwargs)
        token = _narrow.set((cls.object, customer))
        try:
            return list_all(cls, url, *args, customer=customer, **kwargs)
        finally:
            _narrow.reset(token)

    return narrowed_list_all
