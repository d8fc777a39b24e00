"""What the sync reads from Stripe, resource by resource, and how it walks each list page by page.

Each function here reads one page (or one batch of customers) from Stripe and hands it to `commit`, which writes it
to the mirror together with the cursor that follows it (sync.py). Nothing is kept between pages but the cursor, so
memory stays bounded whatever the account's size, and a task that stops anywhere goes on from the last commit.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from billing.models import Customer, Payout
from core import errors

logger = logging.getLogger(__name__)

# commit(object_name, objects, cursor, fetched_at, payout=None) -> number written; `payout` names the payout a page
# of balance transactions was listed for (mirror.upsert_objects(..., payout=)).
Commit = Callable[..., int]


@dataclass(frozen=True)
class Source:
    path: str
    object_name: str
    params: dict = field(default_factory=dict)
    # Lists an older Stripe may lack (localstripe has no /v1/prices nor /v1/disputes): a missing endpoint
    # counts as an empty list instead of failing the run.
    optional: bool = False


@dataclass(frozen=True)
class Resource:
    name: str
    object_name: str  # the mirror type whose unseen rows a complete pass marks deleted
    sources: tuple[Source, ...] = ()
    after: str | None = None  # a resource that must be done first


def _single(name: str, object_name: str, path: str, **params) -> Resource:
    return Resource(name, object_name, (Source(path, object_name, params),))


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        _single("customers", "customer", "/v1/customers"),
        _single("products", "product", "/v1/products"),
        # Plans first, then prices: both list a recurring price under the same id, and the price shape is the
        # richer one, so it is written last.
        Resource(
            "prices",
            "price",
            (Source("/v1/plans", "plan", optional=True), Source("/v1/prices", "price", optional=True)),
        ),
        # Without `status=all` Stripe leaves canceled subscriptions out.
        _single("subscriptions", "subscription", "/v1/subscriptions", status="all"),
        _single("invoices", "invoice", "/v1/invoices"),
        # Stripe lists payment methods per customer only: walks the mirrored customers, so customers go first.
        Resource("payment_methods", "payment_method", after="customers"),
        _single("charges", "charge", "/v1/charges"),
        _single("refunds", "refund", "/v1/refunds"),
        Resource("disputes", "dispute", (Source("/v1/disputes", "dispute", optional=True),)),
        _single("payouts", "payout", "/v1/payouts"),
        # Stripe lists what a payout paid out per payout only (`?payout=`): walks the mirrored payouts.
        Resource("balance_transactions", "balance_transaction", after="payouts"),
    )
}


def page_size() -> int:
    return settings.BILLING_SYNC_PAGE_SIZE


def endpoint_missing(exc: errors.StripeRejected) -> bool:
    return bool(exc.details.get("endpoint_missing"))


def object_missing(exc: errors.StripeRejected) -> bool:
    return exc.details.get("http_status") == 404 and not endpoint_missing(exc)


def walk_lists(client, resource: Resource, cursor: dict, commit: Commit) -> None:
    """Each source of the resource in turn, page by page. Cursor: {"source": index, "after": last id,
    "missing": [paths this Stripe does not have]}."""
    cursor = {"source": 0, "after": None, **cursor}
    while cursor["source"] < len(resource.sources):
        index = cursor["source"]
        source = resource.sources[index]
        fetched_at = int(time.time())
        try:
            objects, has_more = client.list_page(
                source.path, limit=page_size(), starting_after=cursor.get("after"), **source.params
            )
        except errors.StripeRejected as exc:
            if not (source.optional and endpoint_missing(exc)):
                raise
            logger.info("This Stripe has no %s: %s counted as empty", source.path, resource.name)
            objects, has_more = [], False
            cursor["missing"] = sorted({*cursor.get("missing", []), source.path})
        if resource.name == "subscriptions":
            objects = [_with_all_items(client, obj) for obj in objects]
        if objects and has_more:
            cursor["after"] = objects[-1]["id"]
        else:
            cursor.update(source=index + 1, after=None)
        commit(source.object_name, objects, dict(cursor), fetched_at)


def _with_all_items(client, subscription: dict) -> dict:
    """A subscription lists its first items only; the rest are fetched so the mirror can drop removed ones."""
    items = subscription.get("items")
    if not isinstance(items, dict) or not items.get("has_more"):
        return subscription
    every_item = list(client.iterate("/v1/subscription_items", page_size=page_size(), subscription=subscription["id"]))
    return {**subscription, "items": {**items, "data": every_item, "has_more": False}}


def walk_payment_methods(client, account, cursor: dict, commit: Commit) -> None:
    """The mirrored customers in id order, a batch at a time; each customer's payment methods listed in full.
    Cursor: {"customer_after": last customer done, "by_type": true once this Stripe proved to lack
    /v1/customers/<id>/payment_methods}. A batch is committed whole (or earlier when it grows past a page), with
    the last customer it completed, so a resumed task redoes at most one customer."""
    cursor = dict(cursor)
    while True:
        customer_ids = list(
            Customer.objects.filter(account=account, deleted=False, stripe_id__gt=cursor.get("customer_after", ""))
            .order_by("stripe_id")
            .values_list("stripe_id", flat=True)[: page_size()]
        )
        if not customer_ids:
            return
        buffer: list[dict] = []
        fetched_at = int(time.time())
        for position, customer_id in enumerate(customer_ids):
            buffer.extend(_customer_payment_methods(client, customer_id, cursor))
            if len(buffer) >= page_size() or position == len(customer_ids) - 1:
                cursor["customer_after"] = customer_id
                commit("payment_method", buffer, dict(cursor), fetched_at)
                buffer, fetched_at = [], int(time.time())


def _customer_payment_methods(client, customer_id: str, cursor: dict) -> list[dict]:
    if not cursor.get("by_type"):
        try:
            return list(client.iterate(f"/v1/customers/{customer_id}/payment_methods", page_size=page_size()))
        except errors.StripeRejected as exc:
            if object_missing(exc):
                return []  # deleted in Stripe since it was mirrored
            if not endpoint_missing(exc):
                raise
            # An older Stripe (localstripe) lists them only by type: cards are what it knows.
            cursor["by_type"] = True
    try:
        return list(client.iterate("/v1/payment_methods", page_size=page_size(), customer=customer_id, type="card"))
    except errors.StripeRejected as exc:
        if object_missing(exc):
            return []
        raise


def walk_payout_transactions(client, account, cursor: dict, commit: Commit) -> None:
    """The mirrored automatic payouts in id order (Stripe filters balance transactions by automatic payouts
    only), each one's balance transactions page by page, written with their payout. Cursor: {"payout_after":
    last payout done, "payout": the one being listed, "after": its last transaction}."""
    cursor = dict(cursor)
    while True:
        payout_ids = list(
            Payout.objects.filter(
                account=account, deleted=False, automatic=True, stripe_id__gt=cursor.get("payout_after", "")
            )
            .order_by("stripe_id")
            .values_list("stripe_id", flat=True)[: page_size()]
        )
        if cursor.get("payout") and cursor["payout"] not in payout_ids:
            payout_ids.insert(0, cursor["payout"])  # resumed mid-payout
        if not payout_ids:
            if "payout_after" not in cursor:  # no payout at all: one empty page, so the progress shows it too
                commit("balance_transaction", [], {**cursor, "payout_after": ""}, int(time.time()))
            return
        for payout_id in payout_ids:
            _walk_one_payout(client, payout_id, cursor, commit)


def _walk_one_payout(client, payout_id: str, cursor: dict, commit: Commit) -> None:
    after = cursor.get("after") if cursor.get("payout") == payout_id else None
    while True:
        fetched_at = int(time.time())
        try:
            objects, has_more = client.list_page(
                "/v1/balance_transactions", limit=page_size(), starting_after=after, payout=payout_id
            )
        except errors.StripeRejected as exc:
            if not object_missing(exc):
                raise
            objects, has_more = [], False  # the payout is gone from Stripe since it was mirrored
        if objects and has_more:
            after = objects[-1]["id"]
            cursor.update(payout=payout_id, after=after)
        else:
            cursor.pop("payout", None)
            cursor.pop("after", None)
            cursor["payout_after"] = payout_id
        commit("balance_transaction", objects, dict(cursor), fetched_at, payout=payout_id)
        if "payout" not in cursor:
            return


# Resources that are not plain lists, walked by their own function: walk(client, account, cursor, commit).
WALKS = {"payment_methods": walk_payment_methods, "balance_transactions": walk_payout_transactions}
