"""Tenancy for every view: the access token names one account; the user must be a member of it.

`IsAccountMember` is the default permission (settings.REST_FRAMEWORK), so every authenticated view gets
`request.account` and `request.membership`; views read through selectors that take the account, so another
account's object is a 404, never a 403 that confirms it exists."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.models import Membership
from accounts.selectors import membership_get_active
from core.logcontext import bind_account


class IsAccountMember(BasePermission):
    message = "Your token does not name an account you are a member of. Obtain a new token."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not request.user or not request.user.is_authenticated or token is None:
            return False
        account_id = token.get("account_id") if hasattr(token, "get") else None
        if not account_id:
            return False
        membership = membership_get_active(user_id=request.user.pk, account_id=account_id)
        if membership is None:
            return False
        request.account = membership.account
        request.membership = membership
        bind_account(membership.account_id)
        return True


class IsAccountAdmin(IsAccountMember):
    message = "Only the account's owners and admins may do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.membership.role in (
            Membership.Role.OWNER,
            Membership.Role.ADMIN,
        )


# The staff toolkit's views: a staff member's access token, or the session of their admin login (what the admin's
# own pages call; DRF then checks CSRF on writes). JWT first, so an anonymous caller gets 401 with its challenge.
STAFF_AUTHENTICATION = (JWTAuthentication, SessionAuthentication)


class IsBillingStaff(BasePermission):
    """The staff toolkit: staff with the billing_admin_ops permission (SPEC §1)."""

    message = "Staff with the billing_admin_ops permission only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("billing.billing_admin_ops"))
