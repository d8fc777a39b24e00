"""The admin index (issue 16 §5): the last 30 days of gross and net volume across every account's mirror."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from billing.stripe.mirror import upsert_objects
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def charge(account, n: int, amount: int, *, days_ago: int = 0, currency: str = "usd", refunded: int = 0) -> None:
    created = int((timezone.now() - timedelta(days=days_ago)).timestamp())
    upsert_objects(
        account,
        "charge",
        [
            {
                "id": f"ch_{account.pk.hex[:6]}_{n}",
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": refunded,
                "captured": True,
                "currency": currency,
                "status": "succeeded",
                "paid": True,
                "refunded": False,
                "created": created,
                "livemode": False,
                "metadata": {},
            }
        ],
    )
    if refunded:
        upsert_objects(
            account,
            "refund",
            [
                {
                    "id": f"re_{account.pk.hex[:6]}_{n}",
                    "object": "refund",
                    "amount": refunded,
                    "charge": f"ch_{account.pk.hex[:6]}_{n}",
                    "currency": currency,
                    "status": "succeeded",
                    "created": created,
                    "metadata": {},
                }
            ],
        )


def test_the_index_charts_gross_and_net_volume_of_every_account_over_30_days():
    cache.clear()
    first, second = AccountFactory(), AccountFactory()
    charge(first, 1, 1000, refunded=300)
    charge(second, 2, 2500, days_ago=3)
    charge(second, 3, 700, days_ago=29, currency="eur")
    charge(second, 4, 9999, days_ago=31)  # outside the 30 days
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_charge"))
    browser = Client()
    browser.force_login(user)

    page = browser.get("/admin/").content.decode()

    assert "Volume, last 30 days" in page
    usd = page.split('data-currency="usd"')[1].split("</svg>")[0]
    assert '<span class="gross-total">3500</span>' in usd and '<span class="net-total">3200</span>' in usd
    eur = page.split('data-currency="eur"')[1].split("</svg>")[0]
    assert '<span class="gross-total">700</span>' in eur
    assert page.index('data-currency="usd"') < page.index('data-currency="eur"')  # the largest first
    assert usd.count("<rect") == 60  # 30 days, a gross and a net bar each


def test_staff_who_may_not_see_charges_get_no_chart():
    cache.clear()
    user = UserFactory(is_staff=True)
    browser = Client()
    browser.force_login(user)
    assert "Volume, last 30 days" not in browser.get("/admin/").content.decode()
