import os
import subprocess
import sys
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Account, Membership
from accounts.notifications import notify_account, notify_user
from tests.conftest import token_for
from tests.factories import AccountFactory, MembershipFactory
from tests.helpers.ws import closed_with, refusal_close_code, websocket

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
            f"notify_user({owner.id}, 'billing_sync_progress', {{'resource': 'customers', 'synced': 100}},"
            f" account_id='{account.id}')"
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


# --- The session behind an open socket (accounts/consumers.py): it closes with 4401 when the session ends.


async def test_a_socket_closes_when_its_membership_is_removed(owner, account):
    """The removal's event closes it at once (WS_RECHECK_SECONDS is 300: not the periodic re-check)."""
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        await sync_to_async(Membership.objects.filter(user=owner, account=account).delete)()
        assert await closed_with(ws) == 4401


async def test_removing_a_membership_in_another_account_leaves_the_socket_open(owner, account):
    other = await sync_to_async(AccountFactory)()
    await sync_to_async(MembershipFactory)(user=owner, account=other)
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        await sync_to_async(Membership.objects.filter(user=owner, account=other).delete)()
        await sync_to_async(notify_account)(account.id, "balance_updated", {})
        assert (await ws.receive_json_from(timeout=5))["event"] == "balance_updated"


async def test_a_socket_closes_when_its_account_is_deactivated(owner, account):
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        account.is_active = False
        await sync_to_async(account.save)()
        assert await closed_with(ws) == 4401


async def test_a_socket_closes_when_its_token_expires(owner, account):
    access = AccessToken.for_user(owner)
    access["account_id"] = str(account.id)
    access.set_exp(lifetime=timedelta(seconds=2))
    async with websocket(str(access)) as (ws, connected, _code):
        assert connected
        assert await closed_with(ws, timeout=15) == 4401


async def test_a_password_change_closes_the_users_sockets(owner, account):
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected

        def change_password():
            owner.set_password("a-brand-new-passphrase")
            owner.save()

        await sync_to_async(change_password)()
        assert await closed_with(ws) == 4401


async def test_user_events_are_scoped_to_the_account_the_socket_was_opened_for(owner, account):
    other = await sync_to_async(AccountFactory)()
    await sync_to_async(MembershipFactory)(user=owner, account=other)
    token = await _token(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        await sync_to_async(notify_user)(owner.id, "billing_sync_progress", {"of": "other"}, account_id=other.id)
        await sync_to_async(notify_user)(owner.id, "billing_sync_progress", {"of": "this"}, account_id=account.id)
        assert await ws.receive_json_from(timeout=5) == {"event": "billing_sync_progress", "data": {"of": "this"}}
        assert await ws.receive_nothing(timeout=0.3)


async def test_a_ticket_opens_one_socket_once(owner, account):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {await _token(owner, account)}")
    response = await sync_to_async(api.post)("/api/v1/auth/ws-ticket/")
    ticket = response.json()["ticket"]
    async with websocket(None, ticket=ticket) as (ws, connected, _code):
        assert connected
        await sync_to_async(notify_account)(account.id, "balance_updated", {"balance": 1})
        assert await ws.receive_json_from(timeout=5) == {"event": "balance_updated", "data": {"balance": 1}}
        # Single use: the same ticket again is refused, while the first socket stays open.
        assert await refusal_close_code(None, ticket=ticket) == 4401
        await sync_to_async(notify_account)(account.id, "balance_updated", {"balance": 2})
        assert (await ws.receive_json_from(timeout=5))["data"] == {"balance": 2}


async def test_an_unknown_or_expired_ticket_is_refused(owner, account, settings):
    assert await refusal_close_code(None, ticket="made-up") == 4401
    settings.WS_TICKET_SECONDS = 0  # the cache drops it at once: as a ticket past its lifetime
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {await _token(owner, account)}")
    ticket = (await sync_to_async(api.post)("/api/v1/auth/ws-ticket/")).json()["ticket"]
    assert await refusal_close_code(None, ticket=ticket) == 4401


async def test_a_ticket_socket_closes_when_its_membership_is_removed(owner, account):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {await _token(owner, account)}")
    ticket = (await sync_to_async(api.post)("/api/v1/auth/ws-ticket/")).json()["ticket"]
    async with websocket(None, ticket=ticket) as (ws, connected, _code):
        assert connected
        await sync_to_async(Membership.objects.filter(user=owner, account=account).delete)()
        assert await closed_with(ws) == 4401


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://app.example.com", True),
        ("https://evil.example.net", False),
        ("null", False),
        (None, True),  # not a browser: a script holding its own token
    ],
)
async def test_the_origin_is_checked(owner, account, settings, origin, allowed):
    settings.WS_ALLOWED_ORIGINS = ["https://app.example.com"]
    token = await _token(owner, account)
    async with websocket(token, origin=origin) as (_ws, connected, _code):
        assert connected is allowed


async def test_the_origin_defaults_to_allowed_hosts(owner, account, settings):
    token = await _token(owner, account)
    settings.WS_ALLOWED_ORIGINS = []
    settings.ALLOWED_HOSTS = ["app.example.com"]
    async with websocket(token, origin="https://app.example.com") as (_ws, connected, _code):
        assert connected
    async with websocket(token, origin="https://elsewhere.example.com") as (_ws, connected, _code):
        assert not connected
