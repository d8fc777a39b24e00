"""The staff's admin: store and purchases read-only, balances read-only with an adjustment form that writes a
ledger entry through the service."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from marketplace.models import Balance, LedgerEntry
from marketplace.services.balance import balance_adjust
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="marketplace"))
    client.force_login(staff)
    client.staff = staff
    return client


def test_the_adjustment_form_writes_an_entry_and_moves_the_balance(staff_client, sub):
    balance_adjust(account=sub, amount=500, description="credit", user=None)
    balance = Balance.objects.get(account=sub)
    url = reverse("admin:marketplace_balance_adjust", args=[balance.pk])

    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {"amount": "-200", "description": "Charged twice by mistake"})

    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind="adjustment", amount=-200)
    assert (entry.description, entry.created_by) == ("Charged twice by mistake", staff_client.staff)
    assert Balance.objects.get(pk=balance.pk).amount == 300


def test_a_zero_adjustment_is_refused_on_the_form_and_writes_nothing(staff_client, sub):
    balance_adjust(account=sub, amount=500, description="credit", user=None)
    balance = Balance.objects.get(account=sub)

    response = staff_client.post(
        reverse("admin:marketplace_balance_adjust", args=[balance.pk]), {"amount": "0", "description": "x"}
    )
    assert response.status_code == 200
    assert "non-zero" in response.content.decode()
    assert LedgerEntry.objects.count() == 1


def test_balances_ledger_and_purchases_are_read_only_pages(staff_client, sub):
    balance_adjust(account=sub, amount=500, description="credit", user=None)
    balance = Balance.objects.get(account=sub)
    for name in ("balance", "ledgerentry", "purchase", "storeproduct", "storeprice", "topup", "exchangerate"):
        assert staff_client.get(reverse(f"admin:marketplace_{name}_changelist")).status_code == 200, name
    page = staff_client.get(reverse("admin:marketplace_balance_change", args=[balance.pk]))
    assert page.status_code == 200 and "credit" in page.content.decode()
    entry = LedgerEntry.objects.get()
    assert (
        staff_client.post(reverse("admin:marketplace_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert LedgerEntry.objects.count() == 1
