"""The extras: units bought in credit packs, spent when a week's usage passes its quota (METERING.md "Extras
ledger").

`LedgerEntry` is append-only: an entry is never updated nor deleted, and `ExtrasBalance.cached_balance` moves in
the same transaction as each entry, so it always equals their sum (`manage.py metering_ledger_check`). Which
units a negative entry took is recorded as `Consumption` rows against the top-ups it drew from (FIFO by expiry),
so each `Topup.remaining_units` is known; what no top-up covered is `ExtrasBalance.unbacked_units` (negative: a
debt the next top-up settles; positive: units credited without a pack, by staff or a reinstated dispute).
Invariant: cached_balance = Σ entries = Σ remaining_units of the top-ups + unbacked_units."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account


class ExtrasBalance(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="extras_balance")
    cached_balance = models.BigIntegerField(default=0)
    unbacked_units = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.cached_balance}"


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup"  # > 0: a credit pack paid
        ADJUSTMENT = "adjustment"  # ≠ 0: staff, with a reason (and a reinstated dispute)
        DEBIT = "debit"  # < 0: overflow past the weekly quota, or a dispute's withdrawn funds
        REFUND = "refund"  # < 0: clawback of a refunded pack payment
        EXPIRATION = "expiration"  # < 0: a top-up's remaining units past its expiry

    balance = models.ForeignKey(ExtrasBalance, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField()
    # The idempotency key: unique per (balance, kind). An attribution key, a checkout session id, `rf_…`,
    # `dispute-<id>`, `expire-<topup id>`, a staff adjustment's own.
    ref = models.CharField(max_length=255)
    reason = models.CharField(max_length=500, blank=True, default="")
    week_key = models.CharField(max_length=8, blank=True, default="", help_text="A debit's week (weekly check).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["balance", "kind", "ref"], name="ledger_entry_kind_ref_unique"),
            models.CheckConstraint(condition=~Q(ref=""), name="ledger_entry_ref_present"),
            models.CheckConstraint(
                condition=(
                    (Q(kind="topup") & Q(amount__gt=0))
                    | (Q(kind="adjustment") & ~Q(amount=0) & ~Q(reason=""))
                    | (Q(kind__in=["debit", "refund", "expiration"]) & Q(amount__lt=0))
                ),
                name="ledger_entry_sign_by_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["balance", "-created_at", "-id"], name="ledger_entry_newest"),
            models.Index(fields=["kind", "week_key"], name="ledger_entry_kind_week"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.ref})"


class Topup(models.Model):
    """A paid credit pack: what was bought (so a refund never guesses) and what is left of it."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="topup")
    balance = models.ForeignKey(ExtrasBalance, on_delete=models.PROTECT, related_name="topups")
    pack_id = models.CharField(max_length=64)
    units = models.BigIntegerField()
    price_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    checkout_session_id = models.CharField(max_length=255)
    payment_intent_id = models.CharField(max_length=255, blank=True, default="")
    expires_at = models.DateTimeField()
    remaining_units = models.BigIntegerField()
    # Taken back by refunds and disputes (net of reinstatements): never more than the pack gave.
    clawed_back_units = models.BigIntegerField(default=0)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="topup_units_positive"),
            models.CheckConstraint(condition=Q(price_cents__gt=0), name="topup_price_positive"),
            models.CheckConstraint(
                condition=Q(remaining_units__gte=0) & Q(remaining_units__lte=models.F("units")),
                name="topup_remaining_within_units",
            ),
            models.CheckConstraint(
                condition=Q(clawed_back_units__gte=0) & Q(clawed_back_units__lte=models.F("units")),
                name="topup_clawback_within_units",
            ),
        ]
        indexes = [
            models.Index(fields=["balance", "expires_at", "id"], name="topup_fifo"),
            models.Index(fields=["payment_intent_id"], name="topup_payment_intent"),
            models.Index(fields=["expires_at"], name="topup_expiry", condition=Q(expired_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.pack_id} ({self.remaining_units}/{self.units} left)"


class Consumption(models.Model):
    """`units` of a top-up taken by a negative entry (or, for a top-up settling an earlier debt, by itself)."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="consumptions")
    topup = models.ForeignKey(Topup, on_delete=models.PROTECT, related_name="consumptions")
    units = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="consumption_units_positive"),
            models.UniqueConstraint(fields=["entry", "topup"], name="consumption_entry_topup_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.units} of top-up {self.topup_id} by entry {self.entry_id}"
