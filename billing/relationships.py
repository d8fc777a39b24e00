"""The two Stripe relationships (SPEC §0), named once for the whole product: an event, a handler or a Stripe
client belongs to exactly one of them, and the two never mix."""

from django.db import models


class Relationship(models.TextChoices):
    # The account's own Stripe (its endpoint, or a Connect event routed to it): keeps its mirror in step.
    ACCOUNT = "account"
    # The platform's Stripe: our billing of accounts.
    PLATFORM = "platform"

    @classmethod
    def of(cls, account) -> "Relationship":
        """An operation naming an account is about that account's own Stripe; one naming none, the platform's."""
        return cls.ACCOUNT if account is not None else cls.PLATFORM
