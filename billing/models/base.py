from django.db import models


class AccountScopedQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)
