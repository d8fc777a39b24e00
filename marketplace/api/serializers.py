"""The marketplace's request and response bodies (docs/marketplace.md). Money: integers in minor units with a
`currency`."""

from rest_framework import serializers

from core.api.serializers import StrictSerializer
from marketplace.models import LedgerEntry, Purchase, StorePrice, StoreProduct, TopUp

# Printable ASCII, no blanks: request ids travel to Stripe inside the Idempotency-Key header.
REQUEST_ID_PATTERN = r"^[!-~]{8,200}$"
REQUEST_ID_ERRORS = {"invalid": "8 to 200 printable ASCII characters, without blanks."}
MAX_AMOUNT = 99_999_999  # Stripe's largest amount (eight digits in minor units)
INTERVALS = ("day", "week", "month", "year")


def request_id_field(name: str, what: str):
    return serializers.RegexField(
        REQUEST_ID_PATTERN,
        help_text=f"The client's id for this {what} (8–200 printable ASCII characters): the same id acts once, "
        "even sent twice at once.",
        error_messages=REQUEST_ID_ERRORS,
    )


class CurrencyField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(r"^[A-Za-z]{3}$", error_messages={"invalid": "A three-letter ISO currency code."}, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).lower()


# --- store --------------------------------------------------------------------------------------------------


class StoreProductSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="stripe_id", read_only=True, help_text="The product's id in the agency's Stripe.")

    class Meta:
        model = StoreProduct
        fields = ("id", "name", "description", "active", "created_at", "updated_at")


class StoreProductCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    request_id = serializers.RegexField(
        REQUEST_ID_PATTERN,
        required=False,
        error_messages=REQUEST_ID_ERRORS,
        help_text="Makes the create idempotent (or send an `Idempotency-Key` header).",
    )


class StoreProductUpdateSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    active = serializers.BooleanField(required=False, help_text="`false` takes it off sale; bought add-ons go on.")


class StorePriceSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="stripe_id", read_only=True, help_text="The price's id in the agency's Stripe.")
    product = serializers.CharField(source="product.stripe_id", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    type = serializers.SerializerMethodField()
    interval = serializers.CharField(allow_null=True, read_only=True, source="interval_or_none")
    setup_fee = serializers.SerializerMethodField()

    class Meta:
        model = StorePrice
        fields = (
            "id",
            "product",
            "product_name",
            "nickname",
            "type",
            "currency",
            "unit_amount",
            "interval",
            "interval_count",
            "setup_fee",
            "active",
            "created_at",
        )

    def get_type(self, price) -> str:
        return "recurring" if price.is_recurring else "one_time"

    def get_setup_fee(self, price) -> dict | None:
        if not price.setup_fee_amount:
            return None
        return {"amount": price.setup_fee_amount, "currency": price.currency, "price": price.setup_fee_stripe_id}


class StoreRecurringSerializer(StrictSerializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    interval_count = serializers.IntegerField(required=False, min_value=1, max_value=52, default=1)


class StorePriceCreateSerializer(StrictSerializer):
    product = serializers.CharField(max_length=255, help_text="The store product's id.")
    currency = CurrencyField()
    unit_amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    recurring = StoreRecurringSerializer(required=False, allow_null=True, help_text="Omitted: a one-off add-on.")
    nickname = serializers.CharField(required=False, allow_blank=True, max_length=250)
    setup_fee = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_AMOUNT,
        help_text="A setup fee in the same currency, charged once with the first payment.",
    )
    request_id = serializers.RegexField(REQUEST_ID_PATTERN, required=False, error_messages=REQUEST_ID_ERRORS)


class StorePriceUpdateSerializer(StrictSerializer):
    active = serializers.BooleanField(required=False)
    nickname = serializers.CharField(required=False, allow_blank=True, max_length=250)


# --- payment methods ---------------------------------------------------------------------------------------


class SetupIntentSerializer(serializers.Serializer):
    id = serializers.CharField()
    client_secret = serializers.CharField(help_text="For Stripe.js `confirmCardSetup`.")
    customer = serializers.CharField(help_text="The sub-account's customer id in the agency's Stripe.")


class StoreCardSerializer(serializers.Serializer):
    id = serializers.CharField()
    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField(allow_null=True)
    exp_year = serializers.IntegerField(allow_null=True)
    is_default = serializers.BooleanField()


class StoreCardListSerializer(serializers.Serializer):
    results = StoreCardSerializer(many=True)


class DefaultCardSerializer(StrictSerializer):
    payment_method_id = serializers.CharField(max_length=255)


# --- purchases ---------------------------------------------------------------------------------------------


class PurchaseSerializer(serializers.ModelSerializer):
    sub_account = serializers.UUIDField(source="buyer_id", read_only=True)
    price_id = serializers.CharField(source="price.stripe_id", read_only=True)
    product_name = serializers.CharField(source="price.product.name", read_only=True)
    lines = serializers.SerializerMethodField(help_text="What is charged: the add-on and, if any, the setup fee.")
    total_amount = serializers.IntegerField(read_only=True)

    class Meta:
        model = Purchase
        fields = (
            "id",
            "sub_account",
            "purchase_request_id",
            "price_id",
            "product_name",
            "kind",
            "quantity",
            "currency",
            "lines",
            "total_amount",
            "status",
            "payment_intent_id",
            "subscription_id",
            "failure_code",
            "failure_message",
            "refunded_amount",
            "fulfilled_at",
            "provisioned_at",
            "created_at",
        )

    def get_lines(self, purchase) -> list[dict]:
        lines = [{"kind": "add_on", "amount": purchase.amount, "quantity": purchase.quantity}]
        if purchase.setup_fee_amount:
            lines.append({"kind": "setup_fee", "amount": purchase.setup_fee_amount, "quantity": 1})
        return lines


class PurchaseCreateSerializer(StrictSerializer):
    price_id = serializers.CharField(max_length=255, help_text="A price of the agency's store.")
    quantity = serializers.IntegerField(required=False, default=1, min_value=1, max_value=1000)
    purchase_request_id = request_id_field("purchase_request_id", "purchase")


# --- balance -----------------------------------------------------------------------------------------------


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "kind",
            "amount",
            "ref",
            "description",
            "original_amount",
            "original_currency",
            "rate",
            "rate_source",
            "created_at",
        )


class TopUpCreateSerializer(StrictSerializer):
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, help_text="Minor units of `currency`.")
    currency = CurrencyField()
    top_up_request_id = request_id_field("top_up_request_id", "top-up")


class TopUpSerializer(serializers.ModelSerializer):
    client_secret = serializers.SerializerMethodField(help_text="For Stripe.js `confirmCardPayment`.")

    class Meta:
        model = TopUp
        fields = (
            "id",
            "top_up_request_id",
            "status",
            "amount",
            "currency",
            "base_amount",
            "base_currency",
            "rate",
            "rate_source",
            "payment_intent_id",
            "client_secret",
            "created_at",
        )

    def get_client_secret(self, top_up) -> str:
        return self.context.get("client_secret", "")


class UsageCreateSerializer(StrictSerializer):
    amount = serializers.IntegerField(min_value=1, max_value=10**12, help_text="Minor units of the balance's currency.")
    usage_key = serializers.CharField(max_length=200, help_text="Debits once per key.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class UsageResultSerializer(serializers.Serializer):
    applied = serializers.BooleanField(help_text="False: the key was applied before; `entry` is that debit.")
    balance = serializers.IntegerField()
    currency = serializers.CharField()
    entry = LedgerEntrySerializer()


class SubAccountBalanceSerializer(serializers.Serializer):
    sub_account = serializers.UUIDField(source="pk")
    name = serializers.CharField()
    balance = serializers.IntegerField(source="balance_amount")
