"""`/v1/prices`: create, retrieve, update, list, in today's price shape.

localstripe predates prices and only knows plans. A price is stored in localstripe's store (so flushes, isolation
and `expand[]=product` treat it like any other object), and a recurring price is backed by a localstripe plan of
the same id, which is what makes it usable as a subscription item (see subscription_prices.py) and in checkout.
"""

from aiohttp import web
from localstripe.resources import (
    Plan,
    Product,
    StripeObject,
    random_id,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.server import api_create, api_list_all, api_retrieve, api_update

from localdev.fake_stripe import events, isolation
from localdev.fake_stripe.errors import invalid_request, missing_parameter, unknown_parameter

INTERVALS = ("day", "week", "month", "year")
USAGE_TYPES = ("licensed", "metered")
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")
# The currencies Stripe charges in (https://docs.stripe.com/currencies).
CURRENCIES = frozenset(
    """usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf
    chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr
    ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr
    mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd
    shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar
    zmw""".split()
)
UPDATABLE = ("active", "metadata", "nickname", "lookup_key", "transfer_lookup_key", "tax_behavior")


def _recurring(recurring) -> dict:
    if not isinstance(recurring, dict):
        raise invalid_request("Invalid object", param="recurring")
    for name in recurring:
        if name not in ("interval", "interval_count", "usage_type", "trial_period_days"):
            raise unknown_parameter(f"recurring[{name}]")
    interval = recurring.get("interval")
    if interval is None:
        raise missing_parameter("recurring[interval]")
    if interval not in INTERVALS:
        raise invalid_request(
            f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}", param="recurring[interval]"
        )
    interval_count = try_convert_to_int(recurring.get("interval_count", 1))
    if not isinstance(interval_count, int) or interval_count < 1:
        raise invalid_request("Invalid positive integer", param="recurring[interval_count]")
    usage_type = recurring.get("usage_type", "licensed")
    if usage_type not in USAGE_TYPES:
        raise invalid_request("Invalid recurring[usage_type]", param="recurring[usage_type]")
    trial_period_days = recurring.get("trial_period_days")
    if trial_period_days is not None:
        trial_period_days = try_convert_to_int(trial_period_days)
        if not isinstance(trial_period_days, int) or trial_period_days < 0:
            raise invalid_request("Invalid integer", param="recurring[trial_period_days]")
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": None,
        "usage_type": usage_type,
        "trial_period_days": trial_period_days,
    }


def _product_id(product, product_data) -> str:
    if (product is None) == (product_data is None):
        raise invalid_request("You must specify exactly one of `product` and `product_data`.", param="product")
    if product is not None:
        if not isinstance(product, str):
            raise invalid_request("Invalid product", param="product")
        return Product._api_retrieve(product).id  # 404 when absent or another account's
    if not isinstance(product_data, dict) or not product_data.get("name"):
        raise missing_parameter("product_data[name]")
    return Product(name=product_data["name"], metadata=product_data.get("metadata")).id


def _optional_str(value, param: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_request("Invalid string", param=param)
    return value


class Price(StripeObject):
    object = "price"
    _id_prefix = "price_"

    def __init__(
        self,
        currency=None,
        unit_amount=None,
        product=None,
        product_data=None,
        recurring=None,
        active=True,
        metadata=None,
        nickname=None,
        lookup_key=None,
        transfer_lookup_key=False,
        tax_behavior=None,
        **kwargs,
    ):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        if currency is None:
            raise missing_parameter("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise invalid_request(f"Invalid currency: {currency}", param="currency")
        currency = currency.lower()
        if currency not in CURRENCIES:
            raise invalid_request(
                f"Invalid currency: {currency}. Stripe currently supports these currencies: "
                + ", ".join(sorted(CURRENCIES)),
                param="currency",
            )
        unit_amount = try_convert_to_int(unit_amount)
        if unit_amount is None:
            raise missing_parameter("unit_amount")
        if not isinstance(unit_amount, int) or unit_amount < 0:
            raise invalid_request("Invalid non-negative integer", param="unit_amount")
        active = try_convert_to_bool(active)
        if not isinstance(active, bool):
            raise invalid_request("Invalid boolean", param="active")
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_request("Invalid object", param="metadata")
        if tax_behavior is not None and tax_behavior not in TAX_BEHAVIORS:
            raise invalid_request("Invalid tax_behavior", param="tax_behavior")
        recurring = _recurring(recurring) if recurring is not None else None
        nickname = _optional_str(nickname, "nickname")
        lookup_key = _optional_str(lookup_key, "lookup_key")
        holders = _lookup_key_holders(lookup_key, transfer_lookup_key) if lookup_key is not None else []
        product = _product_id(product, product_data)

        price_id = self._id_prefix + random_id(24)
        if recurring is not None:
            Plan(
                id=price_id,
                amount=unit_amount,
                currency=currency,
                product=product,
                interval=recurring["interval"],
                interval_count=recurring["interval_count"],
                usage_type=recurring["usage_type"],
                trial_period_days=recurring["trial_period_days"],
                nickname=nickname,
                active=active,
                metadata=dict(metadata or {}),
            )

        # All exceptions must be raised before this point (localstripe's convention: the store is written here).
        super().__init__(price_id)
        for holder in holders:
            holder.lookup_key = None

        self.active = active
        self.billing_scheme = "per_unit"
        self.currency = currency
        self.custom_unit_amount = None
        self.lookup_key = lookup_key
        self.metadata = dict(metadata or {})
        self.nickname = nickname
        self.product = product
        self.recurring = recurring
        self.tax_behavior = tax_behavior or "unspecified"
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if recurring is not None else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)

        events.emit("price.created", self)

    def _plan(self) -> Plan | None:
        return isolation.find_unchecked("plan", self.id) if self.type == "recurring" else None

    def _update(self, **data):
        # Everything is checked before anything changes, so a refused update leaves the price as it was.
        for name in data:
            if name not in UPDATABLE:
                raise unknown_parameter(name)
        active = try_convert_to_bool(data.get("active", self.active))
        if not isinstance(active, bool):
            raise invalid_request("Invalid boolean", param="active")
        nickname = _optional_str(data["nickname"], "nickname") if "nickname" in data else self.nickname
        lookup_key = _optional_str(data["lookup_key"], "lookup_key") if "lookup_key" in data else self.lookup_key
        tax_behavior = data.get("tax_behavior", self.tax_behavior)
        if tax_behavior != self.tax_behavior and (
            self.tax_behavior != "unspecified" or tax_behavior not in TAX_BEHAVIORS
        ):
            raise invalid_request("tax_behavior can only be set once, from `unspecified`.", param="tax_behavior")
        metadata = merged_metadata(self.metadata, data["metadata"]) if "metadata" in data else self.metadata
        holders = []
        if lookup_key is not None and lookup_key != self.lookup_key:
            holders = _lookup_key_holders(lookup_key, data.get("transfer_lookup_key", False))

        for holder in holders:
            holder.lookup_key = None
        self.active, self.nickname, self.lookup_key = active, nickname, lookup_key
        self.tax_behavior, self.metadata = tax_behavior, metadata
        plan = self._plan()
        if plan is not None:  # keep the plan that stands in for this price in step
            plan.active, plan.nickname, plan.metadata = active, nickname, dict(metadata)

    @classmethod
    def _api_list_all(
        cls,
        url,
        active=None,
        product=None,
        type=None,
        currency=None,
        lookup_keys=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        if kwargs:
            raise unknown_parameter(next(iter(kwargs)))
        page = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        page._list.reverse()  # the store keeps creation order; Stripe lists newest first
        if active is not None:
            active = try_convert_to_bool(active)
            page._list = [price for price in page._list if price.active is active]
        if product is not None:
            page._list = [price for price in page._list if price.product == product]
        if type is not None:
            page._list = [price for price in page._list if price.type == type]
        if currency is not None:
            page._list = [price for price in page._list if price.currency == currency]
        if lookup_keys is not None:
            keys = [lookup_keys] if isinstance(lookup_keys, str) else list(lookup_keys)
            page._list = [price for price in page._list if price.lookup_key in keys]
        return page


def merged_metadata(current: dict, update) -> dict:
    """Stripe's metadata update: keys merge, an empty value deletes its key, an empty string clears all."""
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid_request("Invalid object", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _lookup_key_holders(lookup_key: str, transfer) -> list[Price]:
    """The price holding a lookup key, which `transfer_lookup_key` lets the caller take it from; without it, a
    taken key is refused."""
    holders = Price._api_list_all(None, lookup_keys=lookup_key)._list
    if holders and try_convert_to_bool(transfer) is not True:
        raise invalid_request(f"A price (`{holders[0].id}`) already uses that lookup key.", param="lookup_key")
    return holders


def price_from_data(price_data) -> Price:
    """An inline price (`price_data` of a checkout line item or a subscription item); Stripe archives those."""
    if not isinstance(price_data, dict):
        raise invalid_request("Invalid object", param="price_data")
    return Price(**{**price_data, "active": False})


def price_for_plan(plan: Plan) -> dict:
    """The price view of a plan: the price it backs, or the one Stripe shows for a plan created as a plan."""
    price = isolation.find_unchecked("price", plan.id)
    if price is not None:
        return price._export()
    return {
        "id": plan.id,
        "object": "price",
        "active": plan.active,
        "billing_scheme": plan.billing_scheme,
        "created": plan.created,
        "currency": plan.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": dict(plan.metadata),
        "nickname": plan.nickname,
        "product": plan.product,
        "recurring": {
            "interval": plan.interval,
            "interval_count": plan.interval_count,
            "meter": None,
            "usage_type": plan.usage_type,
            "trial_period_days": plan.trial_period_days,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": plan.tiers_mode,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": plan.amount,
        "unit_amount_decimal": str(plan.amount),
    }


def install(app: web.Application) -> None:
    from localdev.fake_stripe import products  # it builds on this module

    products.install()
    for method, url, factory in (
        ("POST", "/v1/prices", api_create),
        ("GET", "/v1/prices", api_list_all),
        ("GET", "/v1/prices/{id}", api_retrieve),
        ("POST", "/v1/prices/{id}", api_update),
    ):
        app.router.add_route(method, url, factory(Price, url))
