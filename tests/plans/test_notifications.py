"""`subscription_updated` reaches the account's members on the real websocket (routing, consumer, channel layer)
when a platform event changes the plan or the status, and not when nothing a member sees changed."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from accounts.notifications import account_group
from plans.models import PlanVersion
from tests.billing.stripe_objects import today
from tests.conftest import token_for
from tests.helpers.ws import receive_events, websocket
from tests.plans.conftest import CUSTOMER, PRO_MONTH, paid_plan
from tests.plans.test_platform_handlers import subscription

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
T0 = 1_790_000_000


def _setup(account):
    from plans.models import AccountSubscription

    paid_plan("pro", PRO_MONTH)
    AccountSubscription.objects.filter(account=account).update(stripe_customer_id=CUSTOMER)


async def test_members_hear_subscription_updated_when_the_plan_or_status_changes(account, owner, deliver_platform):
    try:
        await _members_hear(account, owner, deliver_platform)
    finally:
        # The sync_to_async thread holds a database connection of its own: closed here, or PostgreSQL cannot drop
        # the test database.
        await sync_to_async(connections.close_all)()


async def _members_hear(account, owner, deliver_platform):
    await sync_to_async(_setup)(account)
    token = await sync_to_async(token_for)(owner, account)

    async with websocket(token) as (ws, connected, _):
        assert connected
        await sync_to_async(deliver_platform)("customer.subscription.created", subscription(), created=T0)
        # Same plan, same status, another period: nothing a member must be told.
        await sync_to_async(deliver_platform)(
            "customer.subscription.updated", subscription(cancel_at_period_end=False), created=T0 + 1
        )
        await sync_to_async(deliver_platform)(
            "customer.subscription.updated", subscription(status="past_due"), created=T0 + 2
        )
        await get_channel_layer().group_send(account_group(account.id), {"type": "notify", "event": "end", "data": {}})
        events = await receive_events(ws, until="end")

    updates = [message["data"] for message in events if message["event"] == "subscription_updated"]
    assert [(update["plan"]["slug"], update["status"]) for update in updates] == [
        ("pro", "active"),
        ("pro", "past_due"),
    ]
    version = await sync_to_async(PlanVersion.objects.get)(plan__slug="pro")
    assert updates[0]["plan_version"] == version.version
    assert today("subscription")["customer"] == CUSTOMER
