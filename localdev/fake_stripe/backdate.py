"""`POST /_test/backdate` {"id", "created"}: moves an object's creation into the past, for demo data and tests
of date windows (everything localstripe creates is stamped "now").

What moves with it: a charge's balance transaction and payment intent; a refund's date and balance transaction;
an invoice's date, period and status transitions (shifted by the same amount) and due date; a dispute's balance
transactions and evidence deadline. A balance transaction's `available_on` follows its `created`.
"""

from aiohttp import web
from localstripe.resources import (
    BalanceTransaction,
    Charge,
    Invoice,
    PaymentIntent,
    Refund,
    StripeObject,
    store,
    try_convert_to_int,
)
from localstripe.server import get_post_data, json_response

from localdev.fake_stripe.errors import invalid_request, missing_parameter, no_such


def _find(object_id: str) -> StripeObject:
    cls = StripeObject._get_class_for_id(object_id)
    obj = store.get(f"{cls.object}:{object_id}") if cls is not None else None
    if obj is None:
        raise no_such("object", object_id)
    return obj


def _move_txn(txn_id, created: int) -> None:
    txn = store.get(f"balance_transaction:{txn_id}") if isinstance(txn_id, str) else None
    if isinstance(txn, BalanceTransaction):
        txn.created = txn.available_on = created


def backdate(obj: StripeObject, created: int) -> None:
    shift = created - obj.created
    obj.created = created
    if isinstance(obj, Charge | Refund):
        _move_txn(obj.balance_transaction, created)
    if isinstance(obj, Refund):
        obj.date = created
    if isinstance(obj, Charge) and isinstance(obj.payment_intent, str):
        intent = store.get(f"payment_intent:{obj.payment_intent}")
        if isinstance(intent, PaymentIntent):
            intent.created = created
    if isinstance(obj, Invoice):
        obj.date = created
        for name in ("period_start", "period_end", "due_date", "effective_at"):
            if getattr(obj, name, None) is not None:
                setattr(obj, name, getattr(obj, name) + shift)
        for name, moment in obj.status_transitions.items():
            if moment is not None:
                obj.status_transitions[name] = moment + shift
    if obj.object == "dispute":
        for txn in obj._balance_transactions:
            txn.created = txn.available_on = txn.created + shift
        obj.evidence_details["due_by"] += shift


async def backdate_route(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    if not isinstance(data.get("id"), str):
        raise missing_parameter("id")
    created = try_convert_to_int(data.get("created"))
    if not isinstance(created, int) or isinstance(created, bool) or created < 1_000_000_000:
        raise invalid_request("`created` must be a Unix timestamp in seconds.", param="created")
    obj = _find(data["id"])
    backdate(obj, created)
    return json_response(obj._export())


def install(app: web.Application) -> None:
    app.router.add_post("/_test/backdate", backdate_route)
