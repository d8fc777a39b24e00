"""Writes for accounts, memberships and sessions (password change, refresh token revocation, websocket tickets)."""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import Account, Membership
from core import errors


@transaction.atomic
def account_create(
    *, name: str, owner_username: str, password: str | None = None, email: str = "", parent_id=None
) -> Account:
    """Creates an account and makes `owner_username` its owner, creating that user if new (a new user needs a
    password). A parent makes it a sub-account; a sub-account cannot itself have sub-accounts."""
    name = (name or "").strip()
    if not name:
        raise errors.InvalidInput("An account needs a name.")
    parent = None
    if parent_id:
        try:
            parent = Account.objects.filter(pk=uuid.UUID(str(parent_id))).first()
        except ValueError:
            raise errors.InvalidInput(f"{parent_id!r} is not an account id.") from None
        if parent is None:
            raise errors.NotFound(f"No parent account {parent_id}.")
        if parent.parent_id:
            raise errors.InvalidInput("A sub-account cannot be the parent of another account.")

    User = get_user_model()
    user = User.objects.filter(username=owner_username).first()
    if user is None:
        if not password:
            raise errors.InvalidInput(f"User {owner_username!r} does not exist: give a password to create it.")
        user = User.objects.create_user(username=owner_username, password=password, email=email)
    elif password:
        raise errors.InvalidInput(f"User {owner_username!r} already exists: leave the password out.")

    account = Account.objects.create(name=name, parent=parent)
    Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    return account


@sensitive_variables("old_password", "new_password")
@transaction.atomic
@transaction.atomic  # the new password and the end of the old sessions commit together, or neither does
def user_password_change(*, user, old_password: str, new_password: str) -> None:
    """Changes the user's password and ends every session it had: all their refresh tokens are blacklisted, and
    every access token issued before now stops working (it carries the old password's digest, SIMPLE_JWT
    CHECK_REVOKE_TOKEN); open websockets re-check and close (the user's post_save, accounts/notifications.py).
    Raises InvalidInput when the old password is wrong or the new one fails the password validators."""
    if not user.check_password(old_password):
        raise errors.InvalidInput(
            "The current password is not right.",
            code="wrong_password",
            details={"fields": {"old_password": ["The current password is not right."]}},
        )
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise errors.InvalidInput(
            " ".join(exc.messages), code="weak_password", details={"fields": {"new_password": exc.messages}}
        ) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    refresh_tokens_revoke_all(user=user)


def refresh_tokens_revoke_all(*, user) -> int:
    """Blacklists every refresh token of the user that has not expired; answers how many."""
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(revoked)


def ws_ticket_issue(*, user_id, account_id, password_claim: str, expires_at: int) -> str:
    """A websocket ticket: short-lived (WS_TICKET_SECONDS), single-use, standing for the access token that asked
    for it (its user, account, password digest and expiry), so that token need not sit in a URL. Only a digest of
    the ticket is kept: reading the cache does not yield usable tickets."""
    ticket = secrets.token_urlsafe(32)
    session = {"user_id": str(user_id), "account_id": str(account_id), "password": password_claim, "exp": expires_at}
    cache.set(_ticket_key(ticket), session, timeout=settings.WS_TICKET_SECONDS)
    return ticket


def ws_ticket_redeem(*, ticket: str) -> dict | None:
    """The session a ticket stands for, once: of two sockets racing with one ticket, only the one whose delete
    removed it gets the session (the cache's delete answers whether it removed the key, atomically in Redis)."""
    if not ticket or len(ticket) > 100:
        return None
    key = _ticket_key(ticket)
    session = cache.get(key)
    if session is None or not cache.delete(key):
        return None
    return session


def _ticket_key(ticket: str) -> str:
    return "ws-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()
