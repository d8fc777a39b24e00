"""The websocket: `ws/notifications/?token=<access JWT>`. A user hears their own and their account's events."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.notifications import account_group, user_group
from accounts.selectors import membership_get_active

# Application close codes (4000-4999): the SPA can tell "log in again" from a network drop.
CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        identity = await self._authenticate()
        if identity is None:
            # Accept, then close with our code: a refusal before accepting reaches the browser as an HTTP 403 and
            # close code 1006, which the SPA cannot tell from a network drop.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user_id, account_id = identity
        self.groups_joined = [user_group(user_id), account_group(account_id)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The socket only pushes; a ping from the client is answered so it can check liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong", "data": {}})

    async def notify(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})

    async def _authenticate(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        raw = (query.get("token") or [""])[0]
        if not raw:
            return None
        try:
            token = AccessToken(raw)
        except TokenError:
            return None
        user_id, account_id = token.get("user_id"), token.get("account_id")
        if not user_id or not account_id:
            return None
        membership = await database_sync_to_async(membership_get_active)(user_id=user_id, account_id=account_id)
        return (user_id, account_id) if membership is not None else None
