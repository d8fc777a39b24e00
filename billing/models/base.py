"""The base of every mirrored Stripe object."""

from django.db import models

from accounts.querysets import AccountScopedQuerySet


class StripeObjectQuerySet(AccountScopedQuerySet):
    def live(self):
        """Not deleted in Stripe (deleted rows are kept: history and analytics still need them)."""
        return self.filter(deleted=False)


class StripeObject(models.Model):
    """One object of the account's own Stripe (SPEC §0), mirrored. Written only by billing/stripe/mirror/.

    Typed columns hold what queries filter and add up; `data` keeps the whole object as Stripe sent it.
    `last_event_created` / `last_event_id` order the writes: a webhook event older than what the row holds is
    ignored (the initial sync stamps the time it fetched the page, with an empty event id).
    `seen_in_run` is the sync pass that last listed the object: a full pass that did not list it means Stripe
    deleted it."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    stripe_id = models.CharField(max_length=255)
    livemode = models.BooleanField(default=False)
    created = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    data = models.JSONField(default=dict)
    last_event_created = models.BigIntegerField(null=True, blank=True)
    last_event_id = models.CharField(max_length=255, blank=True, default="")
    seen_in_run = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    objects = StripeObjectQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["account", "stripe_id"], name="%(app_label)s_%(class)s_account_stripe_id")
        ]
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.stripe_id
