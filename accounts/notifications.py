"""Websocket events (SPEC §10): `{"event": NAME, "data": {...}}` to a user or to every member of an account.

Sent after the surrounding transaction commits (a rolled-back change never announces itself), through the channel
layer, so any process (web or Celery worker) can reach a socket held by another."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return f"user.{user_id}"


def account_group(account_id) -> str:
    return f"account.{account_id}"


def notify_user(user_id, event: str, data: dict) -> None:
    _send_on_commit(user_group(user_id), event, data)


def notify_account(account_id, event: str, data: dict) -> None:
    _send_on_commit(account_group(account_id), event, data)


def _send_on_commit(group: str, event: str, data: dict) -> None:
    transaction.on_commit(lambda: send_now(group, event, data))


def send_now(group: str, event: str, data: dict) -> None:
    """A lost notification must not undo the work it announces: failures are logged, not raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "notify", "event": event, "data": data})
    except Exception:  # noqa: BLE001
        logger.exception("Could not deliver websocket event %s to %s", event, group)
