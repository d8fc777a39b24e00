"""Reads of the mirror for the SPA (SPEC §4): always the token's account, never Stripe. An object of another
account is simply not found."""

from core.errors import NotFound


def mirror_list(*, account, model):
    """The account's live (not deleted in Stripe) objects of one mirrored type."""
    return model.objects.for_account(account).live()


def mirror_get(*, account, model, stripe_id: str):
    row = mirror_list(account=account, model=model).filter(stripe_id=stripe_id).first()
    if row is None:
        raise NotFound(f"No {model._meta.verbose_name} {stripe_id} in this account.")
    return row
