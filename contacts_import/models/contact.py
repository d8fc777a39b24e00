"""A contact of the account's CRM: a person or a business, with at most one contact per (account, type, email)
and per (account, Stripe customer), both enforced by the database."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.querysets import AccountScopedQuerySet


class Contact(models.Model):
    class Type(models.TextChoices):
        PERSON = "person"
        BUSINESS = "business"

    class Source(models.TextChoices):
        MANUAL = "manual"
        STRIPE = "stripe"

    # Not indexed alone: every index below starts with the account (each index costs every imported row).
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=8, choices=Type.choices)
    # Lower case (contacts_import/mapping.py normalises it); "" when unknown. `email_domain` is the part after
    # the "@", kept beside it so a business import can match a company by its domain through an index.
    email = models.CharField(max_length=254, blank=True, default="")
    email_domain = models.CharField(max_length=253, blank=True, default="", editable=False)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    business_name = models.CharField(max_length=255, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    address_street = models.CharField(max_length=500, blank=True, default="")
    address_city = models.CharField(max_length=200, blank=True, default="")
    address_state_province = models.CharField(max_length=200, blank=True, default="")
    address_postal_code = models.CharField(max_length=40, blank=True, default="")
    address_country = models.CharField(max_length=2, blank=True, default="")
    shipping_street = models.CharField(max_length=500, blank=True, default="")
    shipping_city = models.CharField(max_length=200, blank=True, default="")
    shipping_state_province = models.CharField(max_length=200, blank=True, default="")
    shipping_postal_code = models.CharField(max_length=40, blank=True, default="")
    shipping_country = models.CharField(max_length=2, blank=True, default="")
    custom_fields = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the last import that changed this contact overwrote: {field: old value}, e.g. {"phone": "555"}.
    old_field_values = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        # The selective column leads each index: an import looks up a page of emails or Stripe ids in one account,
        # and with the account first the planner, working from statistics taken before a large import filled the
        # account, may scan the whole account per page instead (seen: 15 ms a page at 10,000 contacts).
        constraints = [
            models.UniqueConstraint(
                fields=["email", "account", "type"], condition=~Q(email=""), name="ci_contact_unique_email"
            ),
            models.UniqueConstraint(
                fields=["stripe_customer_id", "account"],
                condition=~Q(stripe_customer_id=""),
                name="ci_contact_unique_stripe_customer",
            ),
            models.CheckConstraint(condition=Q(type__in=["person", "business"]), name="ci_contact_type_valid"),
        ]
        indexes = [
            # A business import's match by domain; partial, so that no other query is planned on it.
            models.Index(
                fields=["email_domain", "account", "id"],
                condition=Q(type="business") & ~Q(email_domain=""),
                name="ci_contact_business_domain",
            ),
            models.Index(fields=["account", "id"], name="ci_contact_acct_id"),  # the list's order
        ]

    def __str__(self) -> str:
        return f"Contact {self.pk} ({self.type} {self.email or self.business_name or '-'})"

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        self.email_domain = self.email.rpartition("@")[2] if "@" in self.email else ""
        super().save(*args, **kwargs)
