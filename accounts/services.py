"""Writes for accounts and memberships."""

import uuid

from django.contrib.auth import get_user_model
from django.db import transaction

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
