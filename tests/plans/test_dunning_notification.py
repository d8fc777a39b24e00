"""Dunning tells the account's members: `subscription_updated` (unpaid, on the default plan) on the real
websocket, sent after the dunning's commit."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from accounts.notifications import account_group
from plans.tasks import run_dunning
from tests.conftest import token_for
from tests.helpers.ws import receive_events, websocket
from tests.plans.conftest import paid_plan
from tests.plans.test_dunning import past_due

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _setup(account):
    past_due(account, paid_plan("pro", "price_pro_month"), 30)


async def test_members_hear_that_dunning_moved_their_account(account, owner, settings):
    settings.BILLING_DUNNING_DAYS = 14
    try:
        await sync_to_async(_setup)(account)
        token = await sync_to_async(token_for)(owner, account)
        async with websocket(token) as (ws, connected, _):
            assert connected
            assert await sync_to_async(run_dunning)() == {"due": 1, "moved": 1, "failed": 0}
            await get_channel_layer().group_send(
                account_group(account.id), {"type": "notify", "event": "end", "data": {}}
            )
            events = await receive_events(ws, until="end")
    finally:
        await sync_to_async(connections.close_all)()

    updates = [message["data"] for message in events if message["event"] == "subscription_updated"]
    assert [(update["plan"]["slug"], update["status"]) for update in updates] == [("free", "unpaid")]
