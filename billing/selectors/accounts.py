from billing import errors
from billing.models import Membership


def membership_for_token(*, user, account_id=None, by_user_id: bool = False) -> Membership:
    """The membership a token is issued for. Raises Forbidden when the user is not a member of that account."""
    memberships = Membership.objects.select_related("account").filter(account__is_active=True)
    memberships = memberships.filter(user_id=user) if by_user_id else memberships.filter(user=user)
    if account_id:
        membership = memberships.filter(account_id=account_id).first()
        if membership is None:
            raise errors.Forbidden(
                "You are not a member of that account. Ask one of its owners to invite you.",
                code="not_a_member",
            )
        return membership
    membership = memberships.order_by("created_at").first()
    if membership is None:
        raise errors.Forbidden("You are not a member of any account yet.", code="no_account")
    return membership
