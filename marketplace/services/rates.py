"""Loading the exchange-rate table (the command; staff also edit it in the admin)."""

from decimal import Decimal, InvalidOperation

from django.db import transaction

from marketplace.models import ExchangeRate
from marketplace.rates import base_currency


class RateError(ValueError):
    pass


def rates_load(*, rows: list[tuple[str, str]], source: str) -> int:
    """All or nothing: one bad line loads none."""
    parsed = []
    for currency, raw in rows:
        currency = currency.strip().lower()
        if len(currency) != 3 or not currency.isalpha():
            raise RateError(f"{currency!r} is not a three-letter currency code.")
        if currency == base_currency():
            raise RateError(f"{currency.upper()} is BASE_CURRENCY: its rate is always 1.")
        try:
            rate = Decimal(raw.strip())
        except InvalidOperation:
            raise RateError(f"{raw!r} is not a number (rate for {currency.upper()}).") from None
        if not rate.is_finite() or rate <= 0:
            raise RateError(f"The rate for {currency.upper()} must be a positive number.")
        parsed.append((currency, rate))
    with transaction.atomic():
        for currency, rate in parsed:
            ExchangeRate.objects.update_or_create(currency=currency, defaults={"rate": rate, "source": source[:100]})
    return len(parsed)
