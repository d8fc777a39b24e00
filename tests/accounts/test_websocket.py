import os
import subprocess
import sys
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Account, Membership
from accounts.notifications import notify_account, notify_user
from tests.conftest import token_for
from tests.helpers.ws import refusal_close_code, websocket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _token(user, account):
    return await sync_to_async(token_for)(user, account)


@pytest.mark.parametrize("token", [None, "", "not.a.jwt"])
async def test_refused_without_a_valid_token(token):
    assert await refusal_close_code(token) == 4401


async def test_refused_with_an_expired_token(owner, account):
    access = AccessToken.for_user(owner)
    access["account_id"] = str(account.id)
    access.set_exp(lifetime=-timedelta(seconds=1))
    assert await refusal_close_code(str(access)) == 4401


async def test_refused_once_the_user_is_no_longer_a_member(owner, account):
    token = await _token(owner, account)
    await sync_to_async(Membership.objects.filter(user=owner, account=account).delete)()
    assert await refusal_close_code(token) == 4401


async def test_refused_once_the_account_is_deactivated(owner, account):
    """The websocket uses the API's membership check: a deactivated account's members no longer connect."""
    token = await _token(owner, account)
    await sync_to_async(Account.objects.filter(pk=account.pk).update)(is_active=False)
    assert await refusal_close_code(token) == 4401


async def test_user_and_account_events_arrive_after_commit(owner, account):
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected

        def send_in_a_rolled_back_then_a_committed_transaction():
            try:
                with transaction.atomic():
                    notify_user(owner.id, "never_sent", {}, account_id=account.id)
                    raise RuntimeError("rollback")
            except RuntimeError:
                pass
            with transaction.atomic():
                notify_user(owner.id, "subscription_updated", {"plan": "pro"}, account_id=account.id)
                notify_account(account.id, "balance_updated", {"balance": 1200, "currency": "usd"})

        await sync_to_async(send_in_a_rolled_back_then_a_committed_transaction)()
        first = await ws.receive_json_from(timeout=5)
        second = await ws.receive_json_from(timeout=5)
        assert first == {"event": "subscription_updated", "data": {"plan": "pro"}}
        assert second == {"event": "balance_updated", "data": {"balance": 1200, "currency": "usd"}}
        assert await ws.receive_nothing(timeout=0.2)


async def test_another_accounts_events_do_not_arrive(owner, account):
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        await sync_to_async(notify_account)("00000000-0000-0000-0000-000000000000", "balance_updated", {})
        assert await ws.receive_nothing(timeout=0.3)


async def test_event_from_another_process_arrives_through_redis(owner, account, redis_channel_layer):
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        sender = (
            "import django; django.setup();"
            "from accounts.notifications import notify_user;"
            f"notify_user({owner.id}, 'billing_sync_progress', {{'resource': 'customers', 'synced': 100}}, account_id='{account.id}')"
        )
        env = {
            **os.environ,
            "REDIS_URL": redis_channel_layer,
            "DJANGO_SETTINGS_MODULE": "billing_project.settings",
        }
        # on_commit outside a transaction runs at once: the worker-side behaviour.
        result = await sync_to_async(subprocess.run)(
            [sys.executable, "-c", sender], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        message = await ws.receive_json_from(timeout=10)
        assert message == {"event": "billing_sync_progress", "data": {"resource": "customers", "synced": 100}}
