"""The websocket: `ws/notifications/?ticket=<ticket>` (POST /api/v1/auth/ws-ticket/) or `?token=<access JWT>`.

A socket is opened for one account (its token's) and hears that account's events and its user's events about that
account. It stays open only while its session holds: it closes with 4401 when its access token expires, and
re-checks the membership (the one check, plus the password digest) when told that something it rests on changed
(accounts/notifications.py: membership removed, account deactivated, user changed) and every WS_RECHECK_SECONDS."""

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import OriginValidator
from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.notifications import account_group, user_group, user_sessions_group
from accounts.selectors import membership_get_for_session
from accounts.services import ws_ticket_redeem

# Application close codes (4000-4999): the SPA can tell "log in again" from a network drop.
CLOSE_UNAUTHENTICATED = 4401


@dataclass(frozen=True)
class Session:
    user_id: str
    account_id: str
    password_claim: str | None
    expires_at: float  # the access token's exp (seconds since the epoch)

    async def holds(self) -> bool:
        if time.time() >= self.expires_at:
            return False
        membership = await database_sync_to_async(membership_get_for_session)(
            user_id=self.user_id, account_id=self.account_id, password_claim=self.password_claim
        )
        return membership is not None


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    session: Session | None = None
    _watch: asyncio.Task | None = None

    async def connect(self):
        session = await self._session_from_query()
        if session is None or not await session.holds():
            # Accept, then close with our code: a refusal before accepting reaches the browser as an HTTP 403 and
            # close code 1006, which the SPA cannot tell from a network drop.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session = session
        self.groups_joined = [
            user_group(session.user_id, session.account_id),
            account_group(session.account_id),
            user_sessions_group(session.user_id),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self._watch = asyncio.create_task(self._watch_session())

    async def disconnect(self, code):
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The socket only pushes; a ping from the client is answered so it can check liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong", "data": {}})

    async def notify(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})

    async def session_recheck(self, message):
        """Something the session rests on changed (accounts/notifications.py)."""
        if self.session is not None and not await self.session.holds():
            await self._end()

    async def _watch_session(self):
        """The expiry timer, and a slow re-check for changes that sent no event (bulk updates)."""
        while self.session is not None:
            remaining = self.session.expires_at - time.time()
            await asyncio.sleep(max(0.0, min(remaining, settings.WS_RECHECK_SECONDS)))
            if self.session is not None and not await self.session.holds():
                await self._end()
                return

    async def _end(self):
        self.session = None
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _session_from_query(self) -> Session | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        ticket = (query.get("ticket") or [""])[0]
        if ticket:
            redeemed = await database_sync_to_async(ws_ticket_redeem)(ticket=ticket)
            if redeemed is None:
                return None
            return Session(redeemed["user_id"], redeemed["account_id"], redeemed["password"], redeemed["exp"])
        raw = (query.get("token") or [""])[0]
        if not raw:
            return None
        try:
            token = AccessToken(raw)
        except TokenError:
            return None
        user_id, account_id = token.get(jwt_settings.USER_ID_CLAIM), token.get("account_id")
        if not user_id or not account_id:
            return None
        return Session(str(user_id), str(account_id), token.get(jwt_settings.REVOKE_TOKEN_CLAIM), token["exp"])


class BrowserOriginValidator(OriginValidator):
    """Refuses (HTTP 403 at the handshake) a socket opened by a page of another origin: a browser always sends
    Origin on a websocket handshake, and without this check any site a user visits could open their socket with
    their ticket or token. A socket with no Origin header is not a browser's (a script holding its own token) and
    is let through. Allowed: WS_ALLOWED_ORIGINS, else ALLOWED_HOSTS, read at each handshake."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        self.allowed_origins = settings.WS_ALLOWED_ORIGINS or settings.ALLOWED_HOSTS
        return self.validate_origin(parsed_origin)
