"""An idle websocket stays open, as a browser keeps it: served by a real daphne process through a Redis channel
layer, idle past 15 s, and the next event still arrives.

Why it needs a process of its own: the failure lived between the consumer's blocking read on Redis and the Redis
client's socket read timeout (billing_project/settings.py, CHANNEL_LAYER_REDIS_OPTIONS). With redis-py 8's default
5 s read timeout every idle socket was closed with 1011 after 5-10 s; only the settings a real server loads from
the environment (REDIS_URL) exercise that path."""

import json
import os
import socket
import subprocess
import sys

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from accounts.notifications import notify_user
from localdev.processes import free_port
from tests.conftest import token_for
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

from tests.deploy.processes import database_url as _database_url  # noqa: E402 - one copy of it

IDLE_SECONDS = 16  # past the 15 s the issue asks for; the broken setup closed sockets at ~5 s and ~10 s


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def daphne_on_redis(redis_url, tmp_path):
    """daphne serving billing_project.asgi on a free port, its channel layer on this session's Redis."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_project.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
    }
    log_path = tmp_path / "daphne.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "billing_project.asgi:application"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def up():
            assert process.poll() is None, f"daphne exited with {process.returncode}:\n{log_path.read_text()}"
            return _listening(port)

        wait_until(up, timeout=60, message="daphne listening")
        yield port, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_an_idle_redis_backed_websocket_outlives_15_seconds_and_still_receives(
    owner, account, redis_channel_layer, daphne_on_redis
):
    port, log_path = daphne_on_redis
    token = token_for(owner, account)

    # A browser-like client: it sends no pings of its own, so nothing but the server keeps the socket busy.
    with connect(
        f"ws://127.0.0.1:{port}/ws/notifications/?token={token}",
        origin=f"http://127.0.0.1:{port}",
        ping_interval=None,
        open_timeout=10,
    ) as ws:
        try:
            # The idle period is the scenario itself, not a wait for something: nothing may arrive, and the
            # socket must not be closed under us (the broken setup closed it with 1011 at ~5 s).
            with pytest.raises(TimeoutError):
                ws.recv(timeout=IDLE_SECONDS)

            # The event goes through the channel layer (Redis) from this process, as a worker's would.
            notify_user(owner.id, "subscription_updated", {"plan": "pro"}, account_id=account.id)
            message = ws.recv(timeout=10)
        except ConnectionClosed as closed:
            pytest.fail(f"the idle socket was closed ({closed}); daphne's log:\n{log_path.read_text()[-3000:]}")

    assert json.loads(message) == {"event": "subscription_updated", "data": {"plan": "pro"}}
