"""Disputes, which localstripe lacks: opened on a charge by the control plane, read through `/v1/disputes`.

- `POST /_test/disputes` {"charge", "amount"? (default: the charge's), "reason"? ("fraudulent"), "status"?
  ("needs_response" | "warning_needs_response" | "under_review" | "won" | "lost"), "created"?} opens a dispute
  as the charge's owner: the charge shows `disputed: true`, the amount leaves the balance (a `dispute`
  balance transaction of -amount), `charge.dispute.created` is sent, and for a dispute opened already won or
  lost `charge.dispute.closed` too (a won one gives the amount back with a second balance transaction).
- `POST /_test/disputes/<id>/close` {"status": "won" | "lost"} closes an open one; `POST /v1/disputes/<id>/close`
  is Stripe's own "accept the dispute" (lost).
- `GET /v1/disputes` (filters `charge`, `payment_intent`; newest first) and `GET /v1/disputes/<id>`.
"""

from aiohttp import web
from localstripe.resources import Charge, StripeObject, try_convert_to_int
from localstripe.server import api_list_all, api_retrieve, get_post_data, json_response

from localdev.fake_stripe import events, isolation
from localdev.fake_stripe.errors import invalid_request, missing_parameter, no_such, unknown_parameter
from localdev.fake_stripe.ledger import balance_transaction

REASONS = (
    "bank_cannot_process",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
OPEN_STATUSES = ("needs_response", "warning_needs_response", "under_review", "warning_under_review")
CLOSED_STATUSES = ("won", "lost")
EVIDENCE_DAYS = 7


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge=None, amount=None, reason="fraudulent", status="needs_response", created=None, **kwargs):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        if charge is None:
            raise missing_parameter("charge")
        charge_obj = Charge._api_retrieve(charge)
        if charge_obj.status != "succeeded":
            raise invalid_request(
                f"Charge {charge} did not succeed: only a paid charge can be disputed.", param="charge"
            )
        if getattr(charge_obj, "disputed", False):
            raise invalid_request(f"Charge {charge} already has a dispute.", param="charge")
        amount = charge_obj.amount if amount is None else try_convert_to_int(amount)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= charge_obj.amount:
            raise invalid_request(
                f"`amount` must be between 1 and the charge's amount ({charge_obj.amount}).", param="amount"
            )
        if reason not in REASONS:
            raise invalid_request(f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason")
        if status not in OPEN_STATUSES + CLOSED_STATUSES:
            raise invalid_request(
                f"Invalid status: must be one of {', '.join(OPEN_STATUSES + CLOSED_STATUSES)}", param="status"
            )
        created = try_convert_to_int(created) if created is not None else None
        if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
            raise invalid_request("Invalid integer", param="created")

        # All exceptions must be raised before this point (localstripe's convention: the store is written here).
        super().__init__()
        if created is not None:
            self.created = created
        self.amount = amount
        self.charge = charge_obj.id
        self.currency = charge_obj.currency
        self.payment_intent = charge_obj.payment_intent
        self.reason = reason
        self.status = "needs_response"
        self.is_charge_refundable = False
        self.metadata = {}
        self.evidence = {"uncategorized_text": None, "customer_email_address": None}
        self.evidence_details = {
            "due_by": self.created + EVIDENCE_DAYS * 24 * 3600,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        self.payment_method_details = {"type": "card", "card": {"brand": "visa", "network_reason_code": "10.4"}}
        self._balance_transactions = [
            balance_transaction(
                amount=-amount,
                currency=self.currency,
                source=self.id,
                type="adjustment",
                reporting_category="dispute",
                description=f"Chargeback withdrawal for {charge}",
                created=self.created,
            )
        ]
        charge_obj.disputed = True
        events.emit("charge.dispute.created", self)
        if status in CLOSED_STATUSES:
            self._close(status)
        else:
            self.status = status

    @property
    def balance_transactions(self) -> list[dict]:
        return [txn._export() for txn in self._balance_transactions]

    def _close(self, status: str) -> None:
        if self.status in CLOSED_STATUSES:
            raise invalid_request(f"Dispute {self.id} is already closed ({self.status}).")
        if status not in CLOSED_STATUSES:
            raise invalid_request("`status` must be won or lost.", param="status")
        self.status = status
        if status == "won":
            self._balance_transactions.append(
                balance_transaction(
                    amount=self.amount,
                    currency=self.currency,
                    source=self.id,
                    type="adjustment",
                    reporting_category="dispute_reversal",
                    description=f"Chargeback reversal for {self.charge}",
                )
            )
        events.emit("charge.dispute.closed", self)

    @classmethod
    def _api_create(cls, **data):
        raise invalid_request(
            "Disputes are opened by card holders: use the local Stripe's POST /_test/disputes.", status=405
        )

    @classmethod
    def _api_list_all(cls, url, charge=None, payment_intent=None, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        page = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        page._list.sort(key=lambda dispute: dispute.created, reverse=True)
        if charge is not None:
            page._list = [dispute for dispute in page._list if dispute.charge == charge]
        if payment_intent is not None:
            page._list = [dispute for dispute in page._list if dispute.payment_intent == payment_intent]
        return page

    @classmethod
    def _api_accept(cls, id, **kwargs):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        dispute = cls._api_retrieve(id)
        dispute._close("lost")
        return dispute


async def open_dispute(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    charge_id = data.get("charge")
    charge = isolation.find_unchecked(Charge.object, charge_id) if isinstance(charge_id, str) else None
    if charge_id is not None and charge is None:
        raise no_such(Charge.object, str(charge_id))
    with isolation.acting_as(isolation.owner_of(charge) if charge is not None else None):
        return json_response(Dispute(**data)._export())


async def close_dispute(request: web.Request) -> web.Response:
    dispute = isolation.find_unchecked(Dispute.object, request.match_info["id"])
    if dispute is None:
        raise no_such(Dispute.object, request.match_info["id"])
    data = await get_post_data(request) or {}
    with isolation.acting_as(isolation.owner_of(dispute)):
        dispute._close(data.get("status"))
    return json_response(dispute._export())


async def accept_dispute(request: web.Request) -> web.Response:
    return json_response(Dispute._api_accept(request.match_info["id"])._export())


def install(app: web.Application) -> None:
    Charge.disputed = False  # a class default; a disputed charge gets its own True
    app.router.add_post("/_test/disputes", open_dispute)
    app.router.add_post("/_test/disputes/{id}/close", close_dispute)
    app.router.add_post("/v1/disputes/{id}/close", accept_dispute)
    for method, url, factory in (
        ("GET", "/v1/disputes", api_list_all),
        ("GET", "/v1/disputes/{id}", api_retrieve),
    ):
        app.router.add_route(method, url, factory(Dispute, url))
