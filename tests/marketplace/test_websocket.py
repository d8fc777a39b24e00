"""`balance_updated` reaches the sub-account's users over the real websocket, after the debit commits."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from accounts.notifications import account_group
from marketplace.services.balance import balance_adjust
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.helpers.ws import receive_events, websocket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.asyncio
async def test_a_usage_debit_sends_balance_updated_with_the_new_balance(sub):
    user = await sync_to_async(UserFactory)(password=PASSWORD)
    await sync_to_async(MembershipFactory)(user=user, account=sub, role="owner")
    await sync_to_async(balance_adjust)(account=sub, amount=1000, description="Opening credit", user=None)
    token = await sync_to_async(token_for)(user, sub)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    async with websocket(token) as (ws, connected, _):
        assert connected
        response = await sync_to_async(api.post)(
            "/api/v1/billing/balance/usage/", {"amount": 300, "usage_key": "ws-1"}, format="json"
        )
        await get_channel_layer().group_send(account_group(sub.pk), {"type": "notify", "event": "end", "data": {}})
        events = await receive_events(ws, until="end")

    assert response.status_code == 201, response.content
    [update] = [e["data"] for e in events if e["event"] == "balance_updated"]
    assert (update["balance"], update["currency"]) == (700, "usd")
    assert (update["entry"]["kind"], update["entry"]["amount"], update["entry"]["ref"]) == ("usage", -300, "usage:ws-1")
