"""Reading the platform's Stripe objects in today's API shape and in older ones (localstripe's): pure functions."""

from datetime import UTC, datetime


def timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value is not None else None


def subscription_period(subscription: dict) -> tuple[datetime | None, datetime | None]:
    """Today's API puts the period on each item (2025-03 on); older ones at the top level."""
    items = (subscription.get("items") or {}).get("data") or []
    start = next((item.get("current_period_start") for item in items if item.get("current_period_start")), None)
    end = next((item.get("current_period_end") for item in items if item.get("current_period_end")), None)
    if start is None:
        start = subscription.get("current_period_start")
    if end is None:
        end = subscription.get("current_period_end")
    return timestamp(start), timestamp(end)


def subscription_price_id(subscription: dict) -> str:
    """The price of the subscription's (single) item: `items.data[].price` today, `plan` in older shapes."""
    for item in (subscription.get("items") or {}).get("data") or []:
        for field in ("price", "plan"):
            value = item.get(field)
            if isinstance(value, dict) and value.get("id"):
                return value["id"]
            if isinstance(value, str) and value:
                return value
    plan = subscription.get("plan")
    if isinstance(plan, dict):
        return plan.get("id") or ""
    return plan or ""


def subscription_item_id(subscription: dict) -> str:
    items = (subscription.get("items") or {}).get("data") or []
    return items[0]["id"] if items else ""


def invoice_subscription_id(invoice: dict) -> str:
    """`parent.subscription_details.subscription` today (2025-03 on), `subscription` before."""
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    value = details.get("subscription") or invoice.get("subscription") or ""
    return value.get("id", "") if isinstance(value, dict) else value


def object_id(value) -> str:
    """An id, or the id of an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""
