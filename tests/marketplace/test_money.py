"""The pure conversion rule and the rates command."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from marketplace.models import ExchangeRate
from marketplace.money import convert


@pytest.mark.parametrize(
    ("amount", "currency", "to", "rate", "expected"),
    [
        (10_000, "eur", "usd", "1.085", 10_850),
        (1, "eur", "usd", "0.5", 0),  # half to even: 0.5 → 0
        (3, "eur", "usd", "0.5", 2),  # 1.5 → 2
        (1000, "jpy", "usd", "0.0067", 670),  # zero-decimal → two-decimal: ¥1000 = $6.70
        (670, "usd", "jpy", "149.25", 1000),  # $6.70 → ¥999.975 → ¥1000
        (1000, "kwd", "usd", "3.25", 325),  # three-decimal: 1.000 KWD = $3.25
    ],
)
def test_conversion_in_minor_units(amount, currency, to, rate, expected):
    assert convert(amount, currency=currency, to_currency=to, rate=Decimal(rate)) == expected


def test_conversion_refuses_a_float():
    with pytest.raises(TypeError):
        convert(10.5, currency="eur", to_currency="usd", rate=Decimal(1))


@pytest.mark.django_db
def test_the_command_loads_rates_all_or_nothing(tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nEUR,1.08\ngbp,1.27\n")
    call_command("load_exchange_rates", str(rates), "--rate", "jpy=0.0067", "--source", "ecb-2026-12-01")

    assert {(r.currency, r.rate, r.source) for r in ExchangeRate.objects.all()} == {
        ("eur", Decimal("1.08"), "ecb-2026-12-01"),
        ("gbp", Decimal("1.27"), "ecb-2026-12-01"),
        ("jpy", Decimal("0.0067"), "ecb-2026-12-01"),
    }
    with pytest.raises(CommandError, match="not a number"):
        call_command("load_exchange_rates", "--rate", "eur=2", "--rate", "chf=lots")
    assert ExchangeRate.objects.get(currency="eur").rate == Decimal("1.08")  # nothing of the bad batch loaded
