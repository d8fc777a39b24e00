"""Whose purchases and balance a request may read: its own account's, or, for an agency, one of its
sub-accounts' (`?sub_account=`). Anything else is a 404 that does not say whether the account exists."""

import uuid

from accounts.models import Account
from core.errors import NotFound


def viewed_account(*, account, sub_account_id: str | None):
    if not sub_account_id:
        return account
    try:
        wanted = uuid.UUID(str(sub_account_id))
    except ValueError:
        raise NotFound("No such sub-account.") from None
    if wanted == account.pk:
        return account
    sub = Account.objects.filter(pk=wanted, parent=account).first() if account.parent_id is None else None
    if sub is None:
        raise NotFound("No such sub-account.")
    return sub
