"""The account's customers' subscriptions (SPEC §4, the account's own Stripe, not its plan with us) and their
invoices, read from the mirror. A subscription shows its items, fetched with the page (one query for all)."""

from django.db.models import Prefetch, prefetch_related_objects
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from billing.api.mirror_base import AccountMirrorViewSet, MirrorFilterSet, StripeObjectSerializer
from billing.api.payments import currency_filter, status_filter
from billing.models import Invoice, Subscription, SubscriptionItem

# --- subscriptions -------------------------------------------------------------------------------------------

SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)


class SubscriptionItemSerializer(StripeObjectSerializer):
    price = serializers.CharField(source="price_stripe_id", read_only=True)
    product = serializers.CharField(source="product_stripe_id", read_only=True)

    class Meta:
        model = SubscriptionItem
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "price",
            "product",
            "quantity",
            "unit_amount",
            "currency",
            "current_period_start",
            "current_period_end",
        )


class SubscriptionSerializer(StripeObjectSerializer):
    customer = serializers.CharField(source="customer_stripe_id", read_only=True)
    latest_invoice = serializers.CharField(source="latest_invoice_stripe_id", read_only=True)
    items = SubscriptionItemSerializer(many=True, read_only=True)

    class Meta:
        model = Subscription
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "customer",
            "status",
            "currency",
            "collection_method",
            "cancel_at_period_end",
            "current_period_start",
            "current_period_end",
            "start_date",
            "trial_start",
            "trial_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
            "latest_invoice",
            "items",
        )


class SubscriptionFilter(MirrorFilterSet):
    status = status_filter(SUBSCRIPTION_STATUSES, "subscription")
    customer = filters.CharFilter(field_name="customer_stripe_id", help_text="The customer's Stripe id.")
    currency = currency_filter()

    class Meta:
        model = Subscription
        fields = ["status", "customer", "currency", "created_after", "created_before"]


@extend_schema_view(
    list=extend_schema(summary="List the account's customers' subscriptions", tags=["billing: subscriptions"]),
    retrieve=extend_schema(summary="One subscription, with its items", tags=["billing: subscriptions"]),
)
class SubscriptionViewSet(AccountMirrorViewSet):
    model = Subscription
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    ordering_fields = ("created", "current_period_end")

    def get_queryset(self):
        return super().get_queryset().prefetch_related(_items())

    def get_object(self):
        subscription = super().get_object()
        prefetch_related_objects([subscription], _items())
        return subscription


def _items() -> Prefetch:
    # Live items only (an item removed from the subscription is kept in the mirror, deleted), as Stripe lists them.
    return Prefetch("items", queryset=SubscriptionItem.objects.live().order_by("created", "stripe_id"))


# --- invoices ------------------------------------------------------------------------------------------------

INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")


class InvoiceSerializer(StripeObjectSerializer):
    customer = serializers.CharField(source="customer_stripe_id", read_only=True)
    subscription = serializers.CharField(source="subscription_stripe_id", read_only=True)
    charge = serializers.CharField(source="charge_stripe_id", read_only=True)
    payment_intent = serializers.CharField(source="payment_intent_stripe_id", read_only=True)

    class Meta:
        model = Invoice
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "customer",
            "subscription",
            "charge",
            "payment_intent",
            "number",
            "status",
            "billing_reason",
            "collection_method",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "subtotal",
            "total",
            "period_start",
            "period_end",
            "due_date",
            "paid_at",
            "hosted_invoice_url",
        )


class InvoiceFilter(MirrorFilterSet):
    status = status_filter(INVOICE_STATUSES, "invoice")
    customer = filters.CharFilter(field_name="customer_stripe_id", help_text="The customer's Stripe id.")
    currency = currency_filter()
    due_after = filters.IsoDateTimeFilter(
        field_name="due_date", lookup_expr="gte", help_text="Due at or after (ISO 8601)."
    )
    due_before = filters.IsoDateTimeFilter(field_name="due_date", lookup_expr="lt", help_text="Due before (ISO 8601).")

    class Meta:
        model = Invoice
        fields = ["status", "customer", "currency", "created_after", "created_before", "due_after", "due_before"]


@extend_schema_view(
    list=extend_schema(summary="List the account's invoices", tags=["billing: invoices"]),
    retrieve=extend_schema(summary="One invoice", tags=["billing: invoices"]),
)
class InvoiceViewSet(AccountMirrorViewSet):
    model = Invoice
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    ordering_fields = ("created", "amount_due", "due_date")
