"""`meter_threshold_crossed` reaches the account's open websocket (the real ASGI app and channel layer)."""

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import token_for
from tests.helpers.ws import websocket
from tests.metering.conftest import attribute, units

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_the_threshold_events_arrive_on_the_websocket_80_then_100(owner, account, pro):
    token = await sync_to_async(token_for)(owner, account)
    async with websocket(token) as (ws, connected, _code):
        assert connected
        await sync_to_async(attribute)(account, "jump", units(130))
        first = await ws.receive_json_from(timeout=5)
        second = await ws.receive_json_from(timeout=5)
        assert first["event"] == second["event"] == "meter_threshold_crossed"
        assert [first["data"]["threshold"], second["data"]["threshold"]] == [80, 100]
        assert first["data"]["meter_used"] == 130 and first["data"]["meter_quota"] == 100
        await sync_to_async(attribute)(account, "more", units(10))
        assert await ws.receive_nothing(timeout=0.3)
