"""Websocket client helper: connects to the real ASGI application (routing, consumer, channel layer).

Every socket ends the way daphne ends one: the client's `websocket.disconnect` reaches the consumer, which leaves
its groups and returns. A consumer left running at the end of a test is cancelled by the event loop's teardown
instead, and with the Redis channel layer a cancelled receive could hang that teardown for good (seen twice in the
PostgreSQL + Redis pass, right after the refusal tests, which never sent the disconnect)."""

from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator

from billing_project.asgi import application

APP_EXIT_TIMEOUT = 10  # seconds for the consumer to return after the disconnect (generous: a loaded machine)


@asynccontextmanager
async def websocket(token: str | None, *, ticket: str | None = None, origin: str | None = None):
    path = "/ws/notifications/" + (f"?token={token}" if token is not None else "")
    if ticket is not None:
        path = f"/ws/notifications/?ticket={ticket}"
    headers = [(b"origin", origin.encode())] if origin is not None else []
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, close_code = await communicator.connect(timeout=5)
    try:
        yield communicator, connected, close_code
    finally:
        if connected:
            await communicator.disconnect(timeout=APP_EXIT_TIMEOUT)


async def refusal_close_code(token: str | None, *, ticket: str | None = None) -> int | None:
    """A refused socket as a browser sees it: the handshake is accepted, then the socket is closed with an
    application code. (Closing before accepting makes the server answer the handshake with HTTP 403, which a
    browser reports as close code 1006: the SPA could not tell "log in again" from a network drop.)"""
    path = "/ws/notifications/" + (f"?token={token}" if token is not None else "")
    if ticket is not None:
        path = f"/ws/notifications/?ticket={ticket}"
    communicator = WebsocketCommunicator(application, path)
    connected, close_code = await communicator.connect(timeout=5)
    assert connected, f"the handshake was refused (close code {close_code}) instead of accepted, then closed"
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await _client_closes(communicator, message.get("code"))
    return message.get("code")


async def _client_closes(communicator, code: int | None) -> None:
    """The browser's side of a close the server began: the disconnect, then the consumer has returned."""
    await communicator.send_input({"type": "websocket.disconnect", "code": code or 1000})
    await communicator.wait(timeout=APP_EXIT_TIMEOUT)


async def receive_events(communicator, *, until: str, timeout: float = 10) -> list[dict]:
    """Every message up to and including the first `until` event."""
    received = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        received.append(message)
        if message["event"] == until:
            return received


async def closed_with(communicator, *, timeout: float = 5) -> int | None:
    """The close code of an open socket the server is expected to close (fails on any other message)."""
    message = await communicator.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    return message.get("code")
