"""Pure money rules for OneBalance: currency conversion in minor units with Decimal, never float."""

from decimal import ROUND_HALF_EVEN, Decimal

# Stripe's zero-decimal and three-decimal currencies; every other has two decimals.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def exponent(currency: str) -> int:
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def convert(amount: int, *, currency: str, to_currency: str, rate: Decimal) -> int:
    """`amount` minor units of `currency` in minor units of `to_currency`, where one unit of `currency` is worth
    `rate` units of `to_currency`; rounded half to even (banker's), so repeated conversions do not drift one way."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("amount must be an integer number of minor units")
    scaled = Decimal(amount) * Decimal(rate) * (Decimal(10) ** (exponent(to_currency) - exponent(currency)))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
