"""A new account is on the default plan from its creation on, without any Stripe call (its platform customer is
created when it first goes to checkout)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Account
from plans.services.defaults import account_subscription_ensure


@receiver(post_save, sender=Account, dispatch_uid="plans.account_created")
def account_created(sender, instance: Account, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        account_subscription_ensure(account=instance)
