"""`/v1/checkout/sessions`: create, retrieve, list, expire, in today's `checkout.session` shape.

A session is stored in localstripe's store like any other object. Paying it is checkout_completion.py's job; its
`url` points at the hosted page of checkout_page.py on this server.
"""

import time

from aiohttp import web
from localstripe.resources import Customer, StripeObject, try_convert_to_int
from localstripe.server import api_extra, api_list_all, api_retrieve, get_post_data, json_response

from localdev.fake_stripe import events
from localdev.fake_stripe.errors import invalid_request, missing_parameter, unknown_parameter
from localdev.fake_stripe.prices import Price, price_from_data

MODES = ("payment", "subscription")
EXPIRES_AFTER_SECONDS = 24 * 3600


def _line_items(line_items) -> list[tuple[Price, int]]:
    if not line_items:
        raise missing_parameter("line_items")
    if not isinstance(line_items, list):
        raise invalid_request("Invalid array", param="line_items")
    priced = []
    for index, item in enumerate(line_items):
        param = f"line_items[{index}]"
        if not isinstance(item, dict):
            raise invalid_request("Invalid object", param=param)
        for name in item:
            if name not in ("price", "price_data", "quantity"):
                raise unknown_parameter(f"{param}[{name}]")
        quantity = try_convert_to_int(item.get("quantity"))
        if quantity is None:
            raise missing_parameter(f"{param}[quantity]")
        if not isinstance(quantity, int) or quantity < 1:
            raise invalid_request("Invalid positive integer", param=f"{param}[quantity]")
        if ("price" in item) == ("price_data" in item):
            raise invalid_request("You must specify exactly one of `price` and `price_data`.", param=param)
        if "price" in item:
            price = Price._api_retrieve(item["price"])
            if not price.active:
                raise invalid_request(
                    "The price specified is inactive. This field only accepts active prices.", param=f"{param}[price]"
                )
        else:
            price = price_from_data(item["price_data"])
        priced.append((price, quantity))
    return priced


def _check_mode(mode: str, priced: list[tuple[Price, int]]) -> None:
    recurring = [price for price, _ in priced if price.type == "recurring"]
    if mode == "payment" and recurring:
        raise invalid_request(
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
            param="line_items",
        )
    if mode == "subscription" and not recurring:
        raise invalid_request(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
            param="line_items",
        )
    if mode == "subscription" and len(priced) != 1:
        # localstripe's subscriptions hold exactly one item and it has no one-time add-ons at checkout.
        raise invalid_request(
            "The local Stripe supports exactly one line item in `subscription` mode.", param="line_items"
        )
    if len({price.currency for price, _ in priced}) != 1:
        raise invalid_request(
            "Checkout does not support multiple prices with different currencies.", param="line_items"
        )


def _metadata_only(value, param: str) -> dict:
    """`subscription_data` / `payment_intent_data`: only their metadata is supported."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_request("Invalid object", param=param)
    for name in value:
        if name != "metadata":
            raise unknown_parameter(f"{param}[{name}]")
    metadata = value.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid_request("Invalid object", param=f"{param}[metadata]")
    return dict(metadata)


class CheckoutSession(StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(
        self,
        mode=None,
        success_url=None,
        cancel_url=None,
        line_items=None,
        customer=None,
        customer_email=None,
        customer_creation=None,
        client_reference_id=None,
        metadata=None,
        subscription_data=None,
        payment_intent_data=None,
        payment_method_types=None,
        **kwargs,
    ):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        if mode is None:
            raise missing_parameter("mode")
        if mode not in MODES:
            raise invalid_request(
                "The local Stripe supports the `payment` and `subscription` modes only.", param="mode"
            )
        if not isinstance(success_url, str) or not success_url:
            raise missing_parameter("success_url")
        if customer is not None and customer_email is not None:
            raise invalid_request(
                "You may only specify one of these parameters: customer, customer_email.", param="customer_email"
            )
        if customer is not None:
            Customer._api_retrieve(customer)  # 404 when absent or another account's
        if customer_creation not in (None, "always", "if_required") or (customer_creation and mode != "payment"):
            raise invalid_request(
                "`customer_creation` is `always` or `if_required`, in `payment` mode only.", param="customer_creation"
            )
        if subscription_data is not None and mode != "subscription":
            raise invalid_request(f"You can not pass `subscription_data` in `{mode}` mode.", param="subscription_data")
        if payment_intent_data is not None and mode != "payment":
            raise invalid_request(
                f"You can not pass `payment_intent_data` in `{mode}` mode.", param="payment_intent_data"
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_request("Invalid object", param="metadata")
        subscription_metadata = _metadata_only(subscription_data, "subscription_data")
        payment_intent_metadata = _metadata_only(payment_intent_data, "payment_intent_data")
        priced = _line_items(line_items)
        _check_mode(mode, priced)
        amount_total = sum(price.unit_amount * quantity for price, quantity in priced)
        if mode == "payment" and amount_total <= 0:
            raise invalid_request(
                "The Checkout Session's total amount due must be positive in `payment` mode.", param="line_items"
            )

        # All exceptions must be raised before this point (localstripe's convention: the store is written here).
        super().__init__()

        self.mode = mode
        self.status = "open"
        self.payment_status = "unpaid"
        self.amount_subtotal = amount_total
        self.amount_total = amount_total
        self.currency = priced[0][0].currency
        self.customer = customer
        self.customer_email = customer_email
        self.customer_creation = customer_creation or ("if_required" if mode == "payment" else None)
        self.customer_details = None
        self.client_reference_id = client_reference_id
        self.metadata = dict(metadata or {})
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.url = None  # set by the create route, which knows the address it was reached at
        self.expires_at = self.created + EXPIRES_AFTER_SECONDS
        self.invoice = None
        self.payment_intent = None
        self.subscription = None
        self.payment_method_types = list(payment_method_types or ["card"])
        self.locale = None
        self.ui_mode = "hosted"
        self._line_items = [{"price": price.id, "quantity": quantity} for price, quantity in priced]
        self._subscription_metadata = subscription_metadata
        self._payment_intent_metadata = payment_intent_metadata

    @classmethod
    def _api_list_all(
        cls,
        url,
        customer=None,
        payment_intent=None,
        subscription=None,
        status=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        page = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        page._list.reverse()  # the store keeps creation order; Stripe lists newest first
        for name, wanted in (
            ("customer", customer),
            ("payment_intent", payment_intent),
            ("subscription", subscription),
            ("status", status),
        ):
            if wanted is not None:
                page._list = [session for session in page._list if getattr(session, name) == wanted]
        return page

    @classmethod
    def _api_expire(cls, id, **kwargs):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        session = cls._api_retrieve(id)
        if session.status != "open":
            raise invalid_request(f"This Checkout Session is {session.status}: only an open session can expire.")
        session.status = "expired"
        session.url = None
        session.expires_at = int(time.time())
        events.emit("checkout.session.expired", session)
        return session


async def create_session(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    expand = data.pop("expand", None)
    session = CheckoutSession(**data)
    session.url = f"{request.scheme}://{request.host}/checkout/{session.id}"
    return json_response(session._export(expand=expand))


def install(app: web.Application) -> None:
    app.router.add_post("/v1/checkout/sessions", create_session)
    for method, url, factory in (
        ("GET", "/v1/checkout/sessions", api_list_all),
        ("GET", "/v1/checkout/sessions/{id}", api_retrieve),
    ):
        app.router.add_route(method, url, factory(CheckoutSession, url))
    expire_url = "/v1/checkout/sessions/{id}/expire"
    app.router.add_post(expire_url, api_extra(CheckoutSession._api_expire, expire_url))
