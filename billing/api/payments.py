"""Money that moved in the account's Stripe (SPEC §4): its charges, refunds and disputes, read from the mirror.
Amounts are integers in minor units beside their currency; every Stripe reference is shown as its Stripe id."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from billing.api.mirror_base import AccountMirrorViewSet, MirrorFilterSet, StripeObjectSerializer
from billing.models import Charge, Dispute, Refund


def currency_filter() -> filters.CharFilter:
    """An ISO currency, any case. Stripe (and so the mirror) writes them lower case, so this is an exact match that
    the (account, ...) indexes can use, not a case-insensitive scan. Empty means no filter, as for any text."""
    return filters.CharFilter(method=_by_currency, help_text="ISO currency code, any case (`usd`, `EUR`).")


def _by_currency(queryset, name, value):
    return queryset.filter(currency=value.strip().lower())


def status_filter(statuses: tuple[str, ...], what: str) -> filters.ChoiceFilter:
    """Stripe's statuses of one object: an unknown one is a 400 naming `status`, not an empty page."""
    return filters.ChoiceFilter(
        field_name="status",
        choices=[(name, name) for name in statuses],
        help_text=f"The {what}'s status in Stripe.",
    )


# --- charges -------------------------------------------------------------------------------------------------


class ChargeSerializer(StripeObjectSerializer):
    customer = serializers.CharField(source="customer_stripe_id", read_only=True)
    invoice = serializers.CharField(source="invoice_stripe_id", read_only=True)
    payment_intent = serializers.CharField(source="payment_intent_stripe_id", read_only=True)
    payment_method = serializers.CharField(source="payment_method_stripe_id", read_only=True)
    balance_transaction = serializers.CharField(source="balance_transaction_stripe_id", read_only=True)

    class Meta:
        model = Charge
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "customer",
            "invoice",
            "payment_intent",
            "payment_method",
            "balance_transaction",
            "currency",
            "amount",
            "amount_captured",
            "amount_refunded",
            "status",
            "paid",
            "captured",
            "refunded",
            "disputed",
            "payment_method_type",
            "card_brand",
            "card_last4",
            "failure_code",
            "failure_message",
            "description",
            "receipt_email",
        )


class ChargeFilter(MirrorFilterSet):
    status = status_filter(("succeeded", "pending", "failed"), "charge")
    customer = filters.CharFilter(field_name="customer_stripe_id", help_text="The customer's Stripe id.")
    currency = currency_filter()
    disputed = filters.BooleanFilter(help_text="Whether the charge has been disputed.")
    refunded = filters.BooleanFilter(help_text="Whether the charge has been refunded in full.")

    class Meta:
        model = Charge
        fields = ["status", "customer", "currency", "disputed", "refunded", "created_after", "created_before"]


@extend_schema_view(
    list=extend_schema(summary="List the account's charges", tags=["billing: charges"]),
    retrieve=extend_schema(summary="One charge", tags=["billing: charges"]),
)
class ChargeViewSet(AccountMirrorViewSet):
    model = Charge
    serializer_class = ChargeSerializer
    filterset_class = ChargeFilter
    ordering_fields = ("created", "amount")

    # `POST charges/<id>/refund/` is billing/api/refunds.py's ChargeRefundView, routed before this viewset.


# --- refunds -------------------------------------------------------------------------------------------------


class RefundSerializer(StripeObjectSerializer):
    charge = serializers.CharField(source="charge_stripe_id", read_only=True)
    payment_intent = serializers.CharField(source="payment_intent_stripe_id", read_only=True)
    balance_transaction = serializers.CharField(source="balance_transaction_stripe_id", read_only=True)

    class Meta:
        model = Refund
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "charge",
            "payment_intent",
            "balance_transaction",
            "currency",
            "amount",
            "status",
            "reason",
        )


class RefundFilter(MirrorFilterSet):
    charge = filters.CharFilter(field_name="charge_stripe_id", help_text="The refunded charge's Stripe id.")
    status = status_filter(("pending", "requires_action", "succeeded", "failed", "canceled"), "refund")
    currency = currency_filter()

    class Meta:
        model = Refund
        fields = ["charge", "status", "currency", "created_after", "created_before"]


@extend_schema_view(
    list=extend_schema(summary="List the account's refunds", tags=["billing: refunds"]),
    retrieve=extend_schema(summary="One refund", tags=["billing: refunds"]),
)
class RefundViewSet(AccountMirrorViewSet):
    model = Refund
    serializer_class = RefundSerializer
    filterset_class = RefundFilter
    ordering_fields = ("created", "amount")


# --- disputes ------------------------------------------------------------------------------------------------

DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "won",
    "lost",
)


class DisputeSerializer(StripeObjectSerializer):
    charge = serializers.CharField(source="charge_stripe_id", read_only=True)
    payment_intent = serializers.CharField(source="payment_intent_stripe_id", read_only=True)

    class Meta:
        model = Dispute
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "charge",
            "payment_intent",
            "currency",
            "amount",
            "status",
            "reason",
            "is_charge_refundable",
            "evidence_due_by",
        )


class DisputeFilter(MirrorFilterSet):
    status = status_filter(DISPUTE_STATUSES, "dispute")
    charge = filters.CharFilter(field_name="charge_stripe_id", help_text="The disputed charge's Stripe id.")
    currency = currency_filter()

    class Meta:
        model = Dispute
        fields = ["status", "charge", "currency", "created_after", "created_before"]


@extend_schema_view(
    list=extend_schema(summary="List the account's disputes", tags=["billing: disputes"]),
    retrieve=extend_schema(summary="One dispute", tags=["billing: disputes"]),
)
class DisputeViewSet(AccountMirrorViewSet):
    model = Dispute
    serializer_class = DisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ("created", "amount", "evidence_due_by")
