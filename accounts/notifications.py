"""Websocket events (SPEC §10): `{"event": NAME, "data": {...}}` to a user or to every member of an account.

Sent after the surrounding transaction commits (a rolled-back change never announces itself), through the channel
layer, so any process (web or Celery worker) can reach a socket held by another.

A socket is opened for one account (its token's): it hears that account's events and its user's events about that
account, never the user's events about another account. Changes that may end a socket's right to stay open
(membership removed, account deactivated, user deactivated or password changed) ask the sockets concerned to
re-check their session (`session.recheck`), wired to the models' signals from `AccountsConfig.ready()`."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

SESSION_RECHECK = "session.recheck"  # the consumer's `session_recheck` handler


def user_group(user_id, account_id) -> str:
    """The sockets of one user opened for one account."""
    return f"user.{user_id}.account.{account_id}"


def account_group(account_id) -> str:
    return f"account.{account_id}"


def user_sessions_group(user_id) -> str:
    """Every socket of one user, whatever its account: only session control messages go there, never events."""
    return f"sessions.user.{user_id}"


def notify_user(user_id, event: str, data: dict, *, account_id) -> None:
    """To the user's sockets opened for `account_id` (the account the event is about)."""
    _send_on_commit(user_group(user_id, account_id), event, data)


def notify_account(account_id, event: str, data: dict) -> None:
    _send_on_commit(account_group(account_id), event, data)


def _send_on_commit(group: str, event: str, data: dict) -> None:
    transaction.on_commit(lambda: send_now(group, event, data))


def send_now(group: str, event: str, data: dict) -> None:
    """A lost notification must not undo the work it announces: failures are logged, not raised."""
    _group_send(group, {"type": "notify", "event": event, "data": data})


def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001
        logger.exception("Could not deliver websocket message %s to %s", message.get("event", message["type"]), group)


def _recheck_on_commit(group: str, reason: str) -> None:
    """Not an event: the consumer re-runs its session check and closes (4401) if the session no longer holds.
    A lost message costs at most WS_RECHECK_SECONDS of a socket that should have closed."""
    transaction.on_commit(lambda: _group_send(group, {"type": SESSION_RECHECK, "reason": reason}))


# --- Signal receivers (connected in AccountsConfig.ready()). Bulk `QuerySet.update()` sends no signal: the
# sockets' periodic re-check (WS_RECHECK_SECONDS) covers those.


def on_membership_deleted(sender, instance, **kwargs) -> None:
    _recheck_on_commit(user_group(instance.user_id, instance.account_id), "membership_removed")


def on_account_saved(sender, instance, **kwargs) -> None:
    if not instance.is_active:
        _recheck_on_commit(account_group(instance.pk), "account_deactivated")


def on_user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login touches nothing a session depends on
    _recheck_on_commit(user_sessions_group(instance.pk), "user_changed")
