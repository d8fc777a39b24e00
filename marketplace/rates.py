"""The rate source: how many BASE_CURRENCY units one unit of another currency is worth, when a top-up is asked
for. Configurable (`MARKETPLACE_RATE_SOURCE`, a dotted path to a callable `(currency) -> Quote | None`); the
default reads the `ExchangeRate` table that staff maintain (admin, `manage.py load_exchange_rates`). Nothing is
fetched from outside at request time."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string

from marketplace.models import ExchangeRate

DEFAULT_SOURCE = "marketplace.rates.table_rate"


@dataclass(frozen=True)
class Quote:
    rate: Decimal  # units of BASE_CURRENCY per unit of the currency
    source: str  # recorded on the ledger entry: where the rate came from


def base_currency() -> str:
    return settings.BASE_CURRENCY.lower()


def table_rate(currency: str) -> Quote | None:
    row = ExchangeRate.objects.filter(currency=currency.lower()).first()
    return None if row is None else Quote(rate=row.rate, source=f"table:{row.source}@{row.updated_at:%Y-%m-%d}")


def rate_for(currency: str) -> Quote | None:
    """The rate from `currency` to BASE_CURRENCY; 1 for BASE_CURRENCY itself; None when the source has none."""
    currency = currency.lower()
    if currency == base_currency():
        return Quote(rate=Decimal(1), source="identity")
    source = import_string(getattr(settings, "MARKETPLACE_RATE_SOURCE", DEFAULT_SOURCE))
    return source(currency)
