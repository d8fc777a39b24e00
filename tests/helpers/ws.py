"""Websocket client helper: connects to the real ASGI application (routing, consumer, channel layer)."""

from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator

from billing_project.asgi import application


@asynccontextmanager
async def websocket(token: str | None):
    path = "/ws/notifications/" + (f"?token={token}" if token is not None else "")
    communicator = WebsocketCommunicator(application, path)
    connected, close_code = await communicator.connect(timeout=5)
    try:
        yield communicator, connected, close_code
    finally:
        if connected:
            await communicator.disconnect()


async def receive_events(communicator, *, until: str, timeout: float = 10) -> list[dict]:
    """Every message up to and including the first `until` event."""
    received = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        received.append(message)
        if message["event"] == until:
            return received
