from core.errors import NotFound
from marketplace.models import Purchase
from marketplace.selectors.accounts import viewed_account


def purchase_list(*, account, sub_account_id: str | None = None):
    """A sub-account's own purchases; an agency's sales to all its sub-accounts, or to one (`sub_account_id`)."""
    rows = Purchase.objects.select_related("price", "price__product")
    if sub_account_id:
        return rows.filter(buyer=viewed_account(account=account, sub_account_id=sub_account_id))
    if account.parent_id is None:
        return rows.filter(agency=account)
    return rows.filter(buyer=account)


def purchase_get(*, account, purchase_id) -> Purchase:
    purchase = purchase_list(account=account).filter(pk=purchase_id).first()
    if purchase is None:
        raise NotFound("No such purchase.")
    return purchase
