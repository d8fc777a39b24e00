"""Reads about accounts and memberships, with the product's one membership check."""

import uuid

from django.db.models import QuerySet
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import Membership
from core import errors


def _active_memberships() -> QuerySet[Membership]:
    """Memberships that grant access: an active user in an active account."""
    return Membership.objects.select_related("account").filter(account__is_active=True, user__is_active=True)


def membership_get_active(*, user_id, account_id) -> Membership | None:
    """THE membership check, used alike by the API permission (every request), the token views (obtain and
    refresh) and the websocket consumer (connect): the membership of that user in that account, or None when
    there is none, or the account or the user is deactivated, or `account_id` is not an account id."""
    try:
        account_uuid = uuid.UUID(str(account_id))
    except ValueError:
        return None
    return _active_memberships().filter(user_id=user_id, account_id=account_uuid).first()


def password_digest(user) -> str:
    """The digest of the user's password hash that tokens carry (SimpleJWT's CHECK_REVOKE_TOKEN claim): a token
    whose digest differs was issued before the last password change."""
    return get_md5_hash_password(user.password)


def membership_get_for_session(*, user_id, account_id, password_claim) -> Membership | None:
    """A session (a websocket, a token being refreshed) holds while the membership check passes and the password
    has not changed since its token was issued."""
    membership = membership_get_active(user_id=user_id, account_id=account_id)
    if membership is None or password_claim != password_digest(membership.user):
        return None
    return membership


def membership_for_token(*, user_id, account_id=None) -> Membership:
    """The membership a token is issued for: that account's, or the user's first one when none is named.
    Raises Forbidden when the user is not (or no longer) a member of an active account."""
    if account_id:
        membership = membership_get_active(user_id=user_id, account_id=account_id)
        if membership is None:
            raise errors.Forbidden(
                "You are not a member of that account. Ask one of its owners to invite you.",
                code="not_a_member",
            )
        return membership
    membership = _active_memberships().filter(user_id=user_id).order_by("created_at").first()
    if membership is None:
        raise errors.Forbidden("You are not a member of any account yet.", code="no_account")
    return membership


def membership_list(*, account) -> QuerySet[Membership]:
    """The account's members, oldest first (paginate the queryset)."""
    return Membership.objects.filter(account=account).select_related("user").order_by("created_at", "id")


def membership_get(*, account, membership_id) -> Membership:
    """One member of the account; another account's membership is NotFound, never Forbidden."""
    membership = membership_list(account=account).filter(pk=membership_id).first()
    if membership is None:
        raise errors.NotFound("No such member in this account.")
    return membership
