"""Subscriptions on prices: `items[][price]` / `items[][price_data]` and a `price` on each item.

localstripe's subscriptions and subscription items only take `plan`. Every recurring price is backed by a plan of
the same id (prices.py), so translating `price` into `plan` before localstripe validates the items is enough. This
wraps localstripe's classes rather than rewriting request bodies, so every way in (`/v1/subscriptions`,
`/v1/customers/<id>/subscriptions`, `/v1/subscription_items`, updates) is covered.
"""

from localstripe.resources import InvoiceLineItem, Subscription, SubscriptionItem

from localdev.fake_stripe.errors import invalid_request
from localdev.fake_stripe.prices import Price, price_for_plan, price_from_data


def _recurring_price(fields: dict, param: str) -> Price | None:
    if "price" in fields and "price_data" in fields:
        raise invalid_request("You may only specify one of these parameters: price, price_data.", param=param)
    if "price_data" in fields:
        price = price_from_data(fields.pop("price_data"))
    elif "price" in fields:
        price = Price._api_retrieve(fields.pop("price"))
    else:
        return None
    if "plan" in fields:
        raise invalid_request("You may only specify one of these parameters: plan, price.", param=param)
    if price.type != "recurring":
        raise invalid_request(
            f"The price specified ({price.id}) is set to `type=one_time` but this field only accepts prices with "
            "`type=recurring`.",
            param=f"{param}[price]",
        )
    return price


def _with_plans(data: dict) -> dict:
    items = data.get("items")
    if isinstance(items, list):
        translated = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                item = dict(item)
                price = _recurring_price(item, f"items[{index}]")
                if price is not None:
                    item["plan"] = price.id
            translated.append(item)
        data = {**data, "items": translated}
    return data


def _price_of_line(line) -> dict | None:
    return price_for_plan(line.plan) if line.plan is not None else None


def install() -> None:
    create_subscription = Subscription._api_create.__func__
    update_subscription = Subscription._update
    create_item = SubscriptionItem._api_create.__func__

    def subscription_create(cls, **data):
        return create_subscription(cls, **_with_plans(data))

    def subscription_update(self, **data):
        return update_subscription(self, **_with_plans(data))

    def item_create(cls, **data):
        data = dict(data)
        price = _recurring_price(data, "price")
        if price is not None:
            data["plan"] = price.id
        return create_item(cls, **data)

    Subscription._api_create = classmethod(subscription_create)
    Subscription._update = subscription_update
    SubscriptionItem._api_create = classmethod(item_create)
    # Today's API puts the price on each subscription item and invoice line; localstripe only has `plan`.
    SubscriptionItem.price = property(lambda item: price_for_plan(item.plan))
    InvoiceLineItem.price = property(_price_of_line)
