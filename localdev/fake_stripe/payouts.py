"""Payouts that sweep the balance, as Stripe's automatic payouts do, made by the control plane.

localstripe's payouts (`POST /v1/payouts`, euros only) pay nothing out: their balance transaction is a made-up id.
Here:
- `POST /_test/payouts` {"currency"? ("usd"), "status"? ("paid" | "pending" | "in_transit" | "failed" |
  "canceled"), "charges"? [ids], "created"?, "arrival_date"?, "description"?, "stripe_account"?} sweeps into
  one payout the balance transactions not yet paid out in that currency: those of the given charges (with their
  refunds' and disputes'), or else all of them. The payout's amount is their net sum; it gets a `payout` balance
  transaction of -amount, and each swept transaction is listed by `GET /v1/balance_transactions?payout=<id>`.
  A failed payout gets its `failure_balance_transaction` (`payout_failure`, +amount) and a failure code; a
  canceled one a `payout_cancel`. Events: `payout.created`, then `payout.paid` / `payout.failed` /
  `payout.canceled`.
- `POST /_test/payouts/<id>/status` {"status"} moves a pending or in-transit payout on.
- `GET /v1/payouts` (localstripe's route) lists newest first, filtered by `status`.
"""

from aiohttp import web
from localstripe.resources import (
    BalanceTransaction,
    Charge,
    Payout,
    Refund,
    StripeObject,
    random_id,
    try_convert_to_int,
)
from localstripe.server import get_post_data, json_response

from localdev.fake_stripe import events, isolation
from localdev.fake_stripe.disputes import Dispute
from localdev.fake_stripe.errors import invalid_request, no_such, unknown_parameter
from localdev.fake_stripe.ledger import balance_transaction, paid_out_by

STATUSES = ("paid", "pending", "in_transit", "failed", "canceled")
FINAL_STATUSES = ("paid", "failed", "canceled")
ARRIVAL_DELAY_SECONDS = 2 * 24 * 3600
OWN_TYPES = ("payout", "payout_failure", "payout_cancel")  # a payout's own transactions, never swept
FAILURE = ("account_closed", "The bank account has been closed.")


def _sources_of(charge_ids: list) -> set[str]:
    """The charges, their refunds and their disputes: the sources whose transactions a payout of them sweeps."""
    sources = set()
    for charge_id in charge_ids:
        charge = Charge._api_retrieve(charge_id)  # 404 when absent or another account's
        sources.add(charge.id)
        sources.update(refund.id for refund in Refund._api_list_all(None, charge=charge.id)._list)
    sources.update(dispute.id for dispute in Dispute._api_list_all(None)._list if dispute.charge in sources)
    return sources


def _unswept(currency: str, charge_ids) -> list[BalanceTransaction]:
    every = BalanceTransaction._api_list_all(None, currency=currency, limit=None)._list
    unswept = [txn for txn in every if paid_out_by(txn) is None and txn.type not in OWN_TYPES]
    if charge_ids is not None:
        if not isinstance(charge_ids, list) or not charge_ids:
            raise invalid_request("`charges` must be a non-empty list of charge ids.", param="charges")
        sources = _sources_of(charge_ids)
        unswept = [txn for txn in unswept if txn.source in sources]
    return unswept


def _int_or_none(value, param: str) -> int | None:
    if value is None:
        return None
    number = try_convert_to_int(value)
    if not isinstance(number, int) or isinstance(number, bool):
        raise invalid_request("Invalid integer", param=param)
    return number


def sweep(currency="usd", status="paid", charges=None, created=None, arrival_date=None, description=None, **kwargs):
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    if status not in STATUSES:
        raise invalid_request(f"Invalid status: must be one of {', '.join(STATUSES)}", param="status")
    if not isinstance(currency, str) or len(currency) != 3:
        raise invalid_request(f"Invalid currency: {currency}", param="currency")
    currency = currency.lower()
    created, arrival_date = _int_or_none(created, "created"), _int_or_none(arrival_date, "arrival_date")
    swept = _unswept(currency, charges)
    amount = sum(txn.net for txn in swept)
    if amount <= 0:
        raise invalid_request(f"Nothing to pay out: the {currency} balance not yet paid out is {amount}.")

    payout = Payout.__new__(Payout)  # localstripe's constructor takes euros only and makes no transaction
    StripeObject.__init__(payout)
    if created is not None:
        payout.created = created
    txn = balance_transaction(
        amount=-amount,
        currency=currency,
        source=payout.id,
        type="payout",
        reporting_category="payout",
        description="STRIPE PAYOUT",
        created=payout.created,
    )
    for paid_out in (*swept, txn):
        paid_out._payout = payout.id
    payout.amount = amount
    payout.arrival_date = arrival_date or payout.created + ARRIVAL_DELAY_SECONDS
    payout.automatic = True
    payout.balance_transaction = txn.id
    payout.currency = currency
    payout.description = description or "STRIPE PAYOUT"
    payout.destination = f"ba_{random_id(24)}"
    payout.failure_balance_transaction = None
    payout.failure_code = payout.failure_message = None
    payout.metadata = {}
    payout.method = "standard"
    payout.original_payout = payout.reversed_by = None
    payout.reconciliation_status = "completed"
    payout.source_type = "card"
    payout.statement_descriptor = None
    payout.status = "pending"
    payout.type = "bank_account"
    events.emit("payout.created", payout)
    if status != "pending":
        _move(payout, status)
    return payout


def _move(payout: Payout, status) -> None:
    if status not in STATUSES:
        raise invalid_request(f"Invalid status: must be one of {', '.join(STATUSES)}", param="status")
    if payout.status in FINAL_STATUSES:
        raise invalid_request(f"Payout {payout.id} is already {payout.status}.", param="status")
    payout.status = status
    if status == "failed":
        payout.failure_code, payout.failure_message = FAILURE
        payout.failure_balance_transaction = balance_transaction(
            amount=payout.amount,
            currency=payout.currency,
            source=payout.id,
            type="payout_failure",
            reporting_category="payout_reversal",
            description="Payout failure",
        ).id
    elif status == "canceled":
        balance_transaction(
            amount=payout.amount,
            currency=payout.currency,
            source=payout.id,
            type="payout_cancel",
            reporting_category="payout_reversal",
            description="Payout cancellation",
        )
    events.emit(f"payout.{status}" if status in FINAL_STATUSES else "payout.updated", payout)


def _list(cls, url, status=None, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    page = StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
    page._list.reverse()
    page._list.sort(key=lambda payout: payout.created, reverse=True)
    if status is not None:
        page._list = [payout for payout in page._list if payout.status == status]
    return page


async def create_payout(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    account = data.pop("stripe_account", None)
    with isolation.acting_as(account):
        return json_response(sweep(**data)._export())


async def move_payout(request: web.Request) -> web.Response:
    payout = isolation.find_unchecked(Payout.object, request.match_info["id"])
    if payout is None:
        raise no_such(Payout.object, request.match_info["id"])
    data = await get_post_data(request) or {}
    with isolation.acting_as(isolation.owner_of(payout)):
        _move(payout, data.get("status"))
    return json_response(payout._export())


def install(app: web.Application) -> None:
    Payout._api_list_all = classmethod(_list)
    app.router.add_post("/_test/payouts", create_payout)
    app.router.add_post("/_test/payouts/{id}/status", move_payout)
