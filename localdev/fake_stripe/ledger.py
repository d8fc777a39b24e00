"""Balance transactions of every type, and `GET /v1/balance_transactions` with Stripe's filters.

localstripe makes balance transactions for charges and refunds only, refuses any other type, and lists them
without filters. Payouts (payouts.py) and disputes (disputes.py) need `payout`, `payout_failure`,
`payout_cancel` and `adjustment` ones; a transaction swept into a payout remembers it, so
`GET /v1/balance_transactions?payout=<id>` lists what the payout paid out (and the payout's own transaction), as
Stripe does. Filters: `payout`, `type`, `source`, `currency`; newest first; `starting_after` / `limit`.
"""

import time

from localstripe.resources import BalanceTransaction, Payout, StripeObject

from localdev.fake_stripe.errors import unknown_parameter


def balance_transaction(
    *,
    amount: int,
    currency: str,
    source: str,
    type: str,
    reporting_category: str,
    description: str | None = None,
    created: int | None = None,
    fee: int = 0,
) -> BalanceTransaction:
    """A balance transaction of any type (localstripe's constructor knows charges and refunds only)."""
    txn = BalanceTransaction.__new__(BalanceTransaction)
    StripeObject.__init__(txn)
    if created is not None:
        txn.created = created
    txn.amount = amount
    txn.available_on = txn.created
    txn.currency = currency
    txn.description = description
    txn.exchange_rate = None
    txn.fee = fee
    txn.fee_details = []
    txn.reporting_category = reporting_category
    txn.source = source
    txn.status = "available" if txn.available_on <= time.time() else "pending"
    txn.type = type
    txn._payout = None
    return txn


def paid_out_by(txn: BalanceTransaction) -> str | None:
    return getattr(txn, "_payout", None)


def _list(cls, url, payout=None, type=None, source=None, currency=None, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    if payout is not None:
        Payout._api_retrieve(payout)  # 404 when absent or another account's
    page = StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
    page._list.reverse()  # the store keeps creation order: newest first, also within one second
    page._list.sort(key=lambda txn: txn.created, reverse=True)
    for wanted, value_of in (
        (payout, paid_out_by),
        (type, lambda txn: txn.type),
        (source, lambda txn: txn.source),
        (currency, lambda txn: txn.currency),
    ):
        if wanted is not None:
            page._list = [txn for txn in page._list if value_of(txn) == wanted]
    return page


def install() -> None:
    BalanceTransaction._api_list_all = classmethod(_list)
