"""Tenancy in querysets: every account-owned model's manager offers `for_account`, so a query that forgets the
account reads as such."""

from django.db import models


class AccountScopedQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)
