"""The account's catalogue (SPEC §4): products and prices, read from the mirror, written to its Stripe first
(services/catalog.py). Prices are immutable in Stripe: a PATCH that changes the amount, currency or recurrence
answers a new price (201) and archives the old one."""

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.customers import STRIPE_WRITE_ERRORS
from billing.api.mirror_base import (
    STRIPE_ID,
    AccountMirrorViewSet,
    MirrorFilterSet,
    StrictSerializer,
    StripeObjectSerializer,
    client_request_id,
)
from billing.api.payments import currency_filter
from billing.models import Price, Product
from billing.services.catalog import (
    price_archive,
    price_create,
    price_update,
    product_archive,
    product_create,
    product_delete,
    product_update,
)
from core.api.schema import error_response

INTERVALS = ("day", "week", "month", "year")
# Stripe's ceiling for an amount in minor units (8 digits), checked here for a 400 naming the field.
MAX_UNIT_AMOUNT = 99_999_999


def _metadata_field():
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500),
        required=False,
        help_text="Stripe metadata: up to 50 keys; an empty value removes a key.",
    )


def _request_id_field():
    return serializers.CharField(
        required=False,
        max_length=200,
        write_only=True,
        help_text="Makes the write idempotent (or send an `Idempotency-Key` header): the same id creates once.",
    )


def _validate_metadata(value):
    if len(value) > 50 or any(len(key) > 40 for key in value):
        raise serializers.ValidationError("At most 50 keys, each at most 40 characters.")
    return value


# --- products ------------------------------------------------------------------------------------------------


class ProductSerializer(StripeObjectSerializer):
    default_price = serializers.CharField(source="default_price_stripe_id", read_only=True)

    class Meta:
        model = Product
        fields = (*StripeObjectSerializer.BASE_FIELDS, "name", "description", "active", "type", "default_price")


class ProductCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    metadata = _metadata_field()
    request_id = _request_id_field()

    validate_metadata = staticmethod(_validate_metadata)


class ProductUpdateSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    metadata = _metadata_field()
    active = serializers.BooleanField(required=False, help_text="`false` archives the product, `true` restores it.")

    validate_metadata = staticmethod(_validate_metadata)


class ProductFilter(MirrorFilterSet):
    active = filters.BooleanFilter(help_text="`false` lists archived products only.")
    search = filters.CharFilter(method="filter_search", help_text="Part of the name, any case, or an exact Stripe id.")

    class Meta:
        model = Product
        fields = ["active", "search", "created_after", "created_before"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(stripe_id=value))


PRODUCT_EXAMPLE = OpenApiExample(
    "A product",
    value={"name": "Growth plan", "description": "For growing teams", "metadata": {"tier": "growth"}},
    request_only=True,
)
PRODUCT_DELETE_ERRORS = {
    **STRIPE_WRITE_ERRORS,
    409: error_response(
        "The product has prices (`product_has_prices`: archive it instead), or the account has no usable Stripe "
        "connection (`stripe_not_connected`, `stripe_auth_failed`)."
    ),
}


@extend_schema_view(
    list=extend_schema(summary="List the account's products", tags=["billing: catalogue"]),
    retrieve=extend_schema(summary="One product", tags=["billing: catalogue"]),
    create=extend_schema(
        summary="Create a product in the account's Stripe",
        tags=["billing: catalogue"],
        request=ProductCreateSerializer,
        responses={201: ProductSerializer, **STRIPE_WRITE_ERRORS},
        examples=[PRODUCT_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Update a product (name, description, metadata, active)",
        tags=["billing: catalogue"],
        request=ProductUpdateSerializer,
        responses={200: ProductSerializer, **STRIPE_WRITE_ERRORS},
        examples=[PRODUCT_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a product that has no prices (one with prices is archived instead)",
        tags=["billing: catalogue"],
        responses={204: None, **PRODUCT_DELETE_ERRORS},
    ),
    archive=extend_schema(
        summary="Archive a product (active=false in Stripe; its prices and subscriptions go on)",
        tags=["billing: catalogue"],
        request=None,
        responses={200: ProductSerializer, **STRIPE_WRITE_ERRORS},
    ),
)
class ProductViewSet(AccountMirrorViewSet):
    model = Product
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    ordering_fields = ("created", "name")
    write_actions = AccountMirrorViewSet.write_actions | {"archive"}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request):
        body = ProductCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        request_id = client_request_id(request, fields.pop("request_id", None))
        product = product_create(account=request.account, fields=fields, request_id=request_id)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, stripe_id):
        product = self.get_object()
        body = ProductUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        product = product_update(account=request.account, product=product, fields=dict(body.validated_data))
        return Response(ProductSerializer(product).data)

    def destroy(self, request, stripe_id):
        product_delete(account=request.account, product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def archive(self, request, stripe_id):
        product = product_archive(account=request.account, product=self.get_object())
        return Response(ProductSerializer(product).data)


# --- prices --------------------------------------------------------------------------------------------------


class RecurringSerializer(StrictSerializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    interval_count = serializers.IntegerField(
        required=False, min_value=1, max_value=365, help_text="Intervals between charges (default 1)."
    )

    def to_internal_value(self, data):
        # Nested: StrictSerializer's own check reads the top-level body only.
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class RecurringOutSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    interval_count = serializers.IntegerField()


class PriceSerializer(StripeObjectSerializer):
    product = serializers.CharField(source="product_stripe_id", read_only=True)
    recurring = serializers.SerializerMethodField(help_text="`null` for a one-time price.")

    class Meta:
        model = Price
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "product",
            "active",
            "currency",
            "unit_amount",
            "type",
            "recurring",
            "nickname",
            "lookup_key",
        )

    @extend_schema_field(RecurringOutSerializer(allow_null=True))
    def get_recurring(self, price):
        if price.type != "recurring":
            return None
        return {"interval": price.recurring_interval, "interval_count": price.recurring_interval_count or 1}


def _currency_field(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(
        r"^[A-Za-z]{3}$",
        error_messages={"invalid": "A three-letter ISO currency code, like `usd` or `eur`."},
        **kwargs,
    )


def _currency(value: str) -> str:
    return value.lower()


class PriceCreateSerializer(StrictSerializer):
    product = serializers.RegexField(rf"^{STRIPE_ID}$", max_length=255, help_text="The product's Stripe id.")
    currency = _currency_field(help_text="Three-letter ISO code, any case (stored lower case).")
    unit_amount = serializers.IntegerField(
        min_value=0, max_value=MAX_UNIT_AMOUNT, help_text="In the currency's minor unit (cents)."
    )
    recurring = RecurringSerializer(required=False, help_text="Absent for a one-time price.")
    nickname = serializers.CharField(required=False, allow_blank=True, max_length=255)
    lookup_key = serializers.CharField(required=False, allow_blank=True, max_length=200)
    metadata = _metadata_field()
    request_id = _request_id_field()

    validate_currency = staticmethod(_currency)
    validate_metadata = staticmethod(_validate_metadata)


class PriceUpdateSerializer(StrictSerializer):
    currency = _currency_field(required=False, help_text="A change makes a new price.")
    unit_amount = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_UNIT_AMOUNT, help_text="A change makes a new price."
    )
    recurring = RecurringSerializer(
        required=False, allow_null=True, help_text="A change makes a new price; `null` makes it one-time."
    )
    nickname = serializers.CharField(required=False, allow_blank=True, max_length=255)
    lookup_key = serializers.CharField(required=False, allow_blank=True, max_length=200)
    metadata = _metadata_field()
    active = serializers.BooleanField(required=False)
    request_id = _request_id_field()

    validate_currency = staticmethod(_currency)
    validate_metadata = staticmethod(_validate_metadata)


class PriceFilter(MirrorFilterSet):
    product = filters.CharFilter(field_name="product_stripe_id", help_text="The product's Stripe id.")
    active = filters.BooleanFilter(help_text="`false` lists archived prices only.")
    currency = currency_filter()
    type = filters.ChoiceFilter(choices=[("one_time", "one_time"), ("recurring", "recurring")])

    class Meta:
        model = Price
        fields = ["product", "active", "currency", "type", "created_after", "created_before"]


PRICE_EXAMPLE = OpenApiExample(
    "A monthly price",
    value={
        "product": "prod_NWjs8kKbJWmuuc",
        "currency": "eur",
        "unit_amount": 4900,
        "recurring": {"interval": "month"},
    },
    request_only=True,
)
PRICE_CHANGE_EXAMPLE = OpenApiExample(
    "A new amount (makes a new price)", value={"unit_amount": 5900, "request_id": "change-42"}, request_only=True
)
PRICE_UPDATE_ERRORS = {
    409: STRIPE_WRITE_ERRORS[409],
    422: error_response(
        "Stripe refused the request (`stripe_rejected`, with Stripe's reason); `price_change_incomplete` if the new "
        "price was created but Stripe refused to archive the old one (`details.new_price`, `details.old_price`)."
    ),
    502: error_response(
        "Stripe is unreachable or failing. `stripe_unavailable`: nothing was written. `price_change_incomplete`: "
        "the new price was created and mirrored (`details.new_price`) but the old one (`details.old_price`) is "
        "still active: repeat the request with the same `request_id`, or archive the old price."
    ),
}


@extend_schema_view(
    list=extend_schema(summary="List the account's prices", tags=["billing: catalogue"]),
    retrieve=extend_schema(summary="One price", tags=["billing: catalogue"]),
    create=extend_schema(
        summary="Create a price in the account's Stripe",
        tags=["billing: catalogue"],
        request=PriceCreateSerializer,
        responses={201: PriceSerializer, **STRIPE_WRITE_ERRORS},
        examples=[PRICE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change a price: in place (nickname, metadata, active, lookup key), or a new price",
        description="A different `unit_amount`, `currency` or `recurring` creates a new price on the same product "
        "(carrying the nickname, metadata and lookup key) and then archives this one: **201** with the new price. "
        "Otherwise the price is updated in place: **200**.",
        tags=["billing: catalogue"],
        request=PriceUpdateSerializer,
        responses={
            200: OpenApiResponse(PriceSerializer, description="Updated in place."),
            201: OpenApiResponse(PriceSerializer, description="The new price; the old one is archived."),
            **PRICE_UPDATE_ERRORS,
        },
        examples=[PRICE_CHANGE_EXAMPLE],
    ),
    archive=extend_schema(
        summary="Archive a price (active=false: no new purchases; existing subscriptions go on)",
        tags=["billing: catalogue"],
        request=None,
        responses={200: PriceSerializer, **STRIPE_WRITE_ERRORS},
    ),
)
class PriceViewSet(AccountMirrorViewSet):
    model = Price
    serializer_class = PriceSerializer
    filterset_class = PriceFilter
    ordering_fields = ("created", "unit_amount")
    write_actions = AccountMirrorViewSet.write_actions | {"archive"}
    # Prices cannot be deleted in Stripe: archive them.
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request):
        body = PriceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        request_id = client_request_id(request, fields.pop("request_id", None))
        price = price_create(account=request.account, fields=fields, request_id=request_id)
        return Response(PriceSerializer(price).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, stripe_id):
        price = self.get_object()
        body = PriceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        request_id = client_request_id(request, fields.pop("request_id", None))
        price, created = price_update(account=request.account, price=price, fields=fields, request_id=request_id)
        return Response(PriceSerializer(price).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def archive(self, request, stripe_id):
        price = price_archive(account=request.account, price=self.get_object())
        return Response(PriceSerializer(price).data)
