"""Bodies and answers of plans' API."""

from rest_framework import serializers

from core.api.serializers import StrictSerializer
from plans.models import AccountSubscription, Plan, PlanVersion

INTERVALS = [("month", "month"), ("year", "year")]  # named PlanIntervalEnum in the schema (settings)
MAX_AMOUNT = 99_999_999


class PlanRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class AccountSubscriptionSerializer(serializers.ModelSerializer):
    plan = PlanRefSerializer(read_only=True)
    plan_version = serializers.IntegerField(source="plan_version.version", read_only=True)
    weekly_quota = serializers.IntegerField(source="plan_version.weekly_quota", read_only=True)
    usage = serializers.SerializerMethodField(help_text="Where the account's metered usage is read.")

    class Meta:
        model = AccountSubscription
        fields = (
            "plan",
            "plan_version",
            "weekly_quota",
            "status",
            "current_period_start",
            "current_period_end",
            "cancel_at_period_end",
            "past_due_since",
            "usage",
        )
        read_only_fields = fields

    def get_usage(self, obj) -> str:
        return "/api/v1/metering/usage/"


class CheckoutInputSerializer(StrictSerializer):
    plan = serializers.SlugField(help_text="The plan's slug.")
    interval = serializers.ChoiceField(choices=INTERVALS, default="month")


class CheckoutOutputSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Stripe Checkout's hosted page: send the user there.")
    session_id = serializers.CharField()


class ChangeInputSerializer(CheckoutInputSerializer):
    pass


class PlatformInvoiceSerializer(serializers.Serializer):
    """One of the account's bills from us (the platform's Stripe)."""

    id = serializers.CharField()
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    amount_due = serializers.IntegerField(help_text="Minor units.")
    amount_paid = serializers.IntegerField(help_text="Minor units.")
    currency = serializers.CharField(allow_null=True)
    created = serializers.IntegerField(allow_null=True, help_text="Unix time.")
    hosted_invoice_url = serializers.CharField(allow_null=True)
    invoice_pdf = serializers.CharField(allow_null=True)


class PlatformInvoiceListSerializer(serializers.Serializer):
    results = PlatformInvoiceSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Always null: the latest 24 bills.")


class PriceInputSerializer(StrictSerializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, help_text="Minor units.")
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO code, e.g. usd.")


class RatiosField(serializers.DictField):
    child = serializers.CharField()


class PlanCreateSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    public = serializers.BooleanField(default=True)
    weekly_quota = serializers.IntegerField(min_value=0, max_value=2_147_483_647)
    ratios = RatiosField(required=False, help_text='Category → decimal string, e.g. {"gpu": "2.5", "default": "1"}.')
    prices = PriceInputSerializer(many=True, allow_empty=False)


class VersionCreateSerializer(StrictSerializer):
    weekly_quota = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    ratios = RatiosField(required=False)
    prices = PriceInputSerializer(many=True, required=False)


class PlanVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanVersion
        fields = (
            "version",
            "weekly_quota",
            "ratios",
            "stripe_price_month",
            "stripe_price_year",
            "effective_from",
            "effective_until",
            "active",
        )
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    """A plan with its versions, newest first."""

    versions = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = ("slug", "name", "public", "stripe_product_id", "versions")
        read_only_fields = fields

    def get_versions(self, obj) -> list[dict]:
        # Prefetched by the selector: sorted here, not re-queried.
        versions = sorted(obj.versions.all(), key=lambda version: -version.version)
        return PlanVersionSerializer(versions, many=True).data


class PlanListSerializer(serializers.Serializer):
    results = PlanSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Always null: every plan in one page.")
