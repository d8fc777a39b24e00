"""Payment links (SPEC §4, issue 11 item 5): an ad-hoc invoice in the account's Stripe whose hosted page is the
link. Made and voided by services/payment_links.py; listed from our links joined with the mirrored invoices
(selectors/payment_links.py). A link's id is its invoice's Stripe id."""

from datetime import UTC, datetime, timedelta

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.customers import STRIPE_WRITE_ERRORS
from billing.api.mirror_base import STRIPE_ID, AccountMirrorViewSet, MirrorFilterSet, StrictSerializer
from billing.models import Invoice
from billing.selectors.payment_links import payment_link_get, payment_link_list
from billing.services.payment_links import LineItem, payment_link_create, payment_link_void
from core.api.schema import error_response

STATUSES = ("draft", "open", "paid", "uncollectible", "void")
MAX_AMOUNT = 99_999_999  # Stripe's largest amount: eight digits of minor units
LONGEST_TERM_DAYS = 5 * 365
MAX_LINES = 100
MAX_MEMO = 1500
NO_NUL = "^[^\\x00]*$"  # text fields refuse NUL characters (Django's validator; PostgreSQL cannot store them)


class LineItemSerializer(StrictSerializer):
    """One line: an amount with its currency and description, or a one-time price; times `quantity`."""

    amount = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_AMOUNT, help_text="Per unit, in minor units (cents)."
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        trim_whitespace=False,
        help_text="ISO 4217, with `amount` (a price has its own).",
    )
    description = serializers.CharField(
        required=False,
        max_length=500,
        trim_whitespace=False,
        help_text="The line as the customer reads it; required with `amount`.",
    )
    price = serializers.RegexField(
        rf"^{STRIPE_ID}$",
        required=False,
        max_length=255,
        trim_whitespace=False,
        help_text="A one-time price of the account's catalogue.",
    )
    quantity = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10_000)

    def to_internal_value(self, data):
        # A nested serializer has no `initial_data`: unknown keys are refused here, beside the other fields'
        # errors (a misspelt `ammount` must not silently vanish).
        unknown = (
            {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            if isinstance(data, dict)
            else {}
        )
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **unknown}) if unknown else exc from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def validate(self, attrs):
        if "price" in attrs:
            clashing = [name for name in ("amount", "currency") if name in attrs]
            if clashing:
                raise serializers.ValidationError(
                    {name: ["A line is an amount or a price, not both: the price sets it."] for name in clashing}
                )
            return attrs
        missing = [name for name in ("amount", "currency", "description") if name not in attrs]
        if missing:
            raise serializers.ValidationError(
                {name: ["Required for a line with an amount (or give a `price`)."] for name in missing}
            )
        return {**attrs, "currency": attrs["currency"].lower()}


class PaymentLinkCreateSerializer(StrictSerializer):
    """A payment link to make: once per `request_id`."""

    customer = serializers.RegexField(
        rf"^{STRIPE_ID}$", max_length=255, trim_whitespace=False, help_text="The customer's Stripe id."
    )
    line_items = LineItemSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    due_date = serializers.DateField(
        required=False, help_text="ISO date, after today (UTC): due at its end. Or `days_until_due`."
    )
    days_until_due = serializers.IntegerField(required=False, min_value=1, max_value=LONGEST_TERM_DAYS)
    memo = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_MEMO,
        trim_whitespace=False,
        help_text="Shown on the invoice (its description).",
    )
    request_id = serializers.CharField(
        max_length=200,
        trim_whitespace=False,
        help_text="Required: the same id makes one link, even sent twice at once or days later; a second POST "
        "answers the same link.",
    )

    def validate_due_date(self, value):
        today = datetime.now(UTC).date()
        if value <= today:
            raise serializers.ValidationError(f"A due date is a day after today ({today.isoformat()}, UTC).")
        if value > today + timedelta(days=LONGEST_TERM_DAYS):
            raise serializers.ValidationError("A due date is at most five years away.")
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("due_date" in attrs) == ("days_until_due" in attrs):
            problem = ["Give either `due_date` or `days_until_due`, one of them."]
            raise serializers.ValidationError({"due_date": problem, "days_until_due": problem})
        return attrs


class PaymentLinkLineSerializer(serializers.Serializer):
    description = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField(allow_null=True)
    amount = serializers.IntegerField(help_text="The line's total, minor units.")
    currency = serializers.CharField()
    price = serializers.CharField(allow_null=True)


class PaymentLinkSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="stripe_id", read_only=True, help_text="The invoice's Stripe id.")
    url = serializers.CharField(
        source="hosted_invoice_url", read_only=True, help_text="The link: the invoice's hosted page."
    )
    request_id = serializers.CharField(source="link_request_id", read_only=True)
    memo = serializers.CharField(source="link_memo", read_only=True)
    customer = serializers.CharField(source="customer_stripe_id", read_only=True)
    customer_email = serializers.SerializerMethodField()
    customer_name = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField(help_text="The invoice's lines, as Stripe listed them.")

    class Meta:
        model = Invoice
        fields = (
            "id",
            "url",
            "status",
            "customer",
            "customer_email",
            "customer_name",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "total",
            "due_date",
            "memo",
            "number",
            "request_id",
            "created",
            "paid_at",
            "lines",
        )

    def get_customer_email(self, invoice) -> str | None:
        return invoice.customer.email if invoice.customer else None

    def get_customer_name(self, invoice) -> str | None:
        return invoice.customer.name if invoice.customer else None

    @extend_schema_field(PaymentLinkLineSerializer(many=True))
    def get_lines(self, invoice) -> list[dict]:
        lines = ((invoice.data or {}).get("lines") or {}).get("data") or []
        return [
            {
                "description": line.get("description"),
                "quantity": line.get("quantity"),
                "amount": line.get("amount") or 0,
                "currency": line.get("currency") or invoice.currency,
                "price": _ref(line.get("price")),
            }
            for line in lines
            if isinstance(line, dict)
        ]


def _ref(value) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value or None


class PaymentLinkFilter(MirrorFilterSet):
    status = filters.ChoiceFilter(choices=[(s, s) for s in STATUSES], help_text="The invoice's status.")
    customer = filters.CharFilter(field_name="customer_stripe_id", help_text="The customer's Stripe id.")

    class Meta:
        model = Invoice
        fields = ["status", "customer", "created_after", "created_before"]


class VoidSerializer(StrictSerializer):
    """No fields: voiding takes none."""


def _quantity() -> dict:
    return {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1}


def _line(title: str, properties: dict, required: list[str]) -> dict:
    description = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NO_NUL}
    return {
        "title": title,
        "type": "object",
        "properties": {**properties, "description": description, "quantity": _quantity()},
        "required": required,
        "additionalProperties": False,
    }


# The body as a schema can say it (the serializer above checks the same, and more: a due date after today, one
# currency across the lines, a customer and prices of this account): a line is an amount or a price, the due
# date a date or a number of days.
_LINE_ITEMS = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_LINES,
    "items": {
        "oneOf": [
            _line(
                "An amount",
                {
                    "amount": {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT, "description": "Per unit."},
                    "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                },
                ["amount", "currency", "description"],
            ),
            _line(
                "A one-time price",
                {"price": {"type": "string", "pattern": f"^{STRIPE_ID}$", "maxLength": 255}},
                ["price"],
            ),
        ]
    },
}
_COMMON = {
    "customer": {"type": "string", "pattern": f"^{STRIPE_ID}$", "maxLength": 255},
    "line_items": _LINE_ITEMS,
    "memo": {"type": "string", "maxLength": MAX_MEMO, "pattern": NO_NUL},
    "request_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
}
CREATE_REQUEST = {
    "oneOf": [
        {
            "title": title,
            "type": "object",
            "properties": {**_COMMON, name: schema},
            "required": ["customer", "line_items", name, "request_id"],
            "additionalProperties": False,
        }
        for title, name, schema in (
            ("Due on a date", "due_date", {"type": "string", "format": "date", "description": "After today (UTC)."}),
            (
                "Due in some days",
                "days_until_due",
                {"type": "integer", "minimum": 1, "maximum": LONGEST_TERM_DAYS},
            ),
        )
    ]
}
TAG = ["billing: payment links"]
CREATE_EXAMPLE = OpenApiExample(
    "Two lines, due in 30 days",
    value={
        "customer": "cus_NffrFeUfNV2Hib",
        "line_items": [
            {"amount": 12000, "currency": "eur", "description": "Design workshop", "quantity": 2},
            {"price": "price_1MoBy5LkdIwHu7ixZhnattbh"},
        ],
        "days_until_due": 30,
        "memo": "Thank you for your business.",
        "request_id": "7d3c1f0e-link-2024-05",
    },
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List the account's payment links", tags=TAG),
    retrieve=extend_schema(summary="One payment link", tags=TAG),
    create=extend_schema(
        summary="Make a payment link: an ad-hoc invoice, finalised, with its hosted page",
        description="Idempotent by `request_id`: the same id answers the same link. Line items in different "
        "currencies, an unknown customer or price are a 400.",
        tags=TAG,
        request={"application/json": CREATE_REQUEST},
        responses={
            201: PaymentLinkSerializer,
            **STRIPE_WRITE_ERRORS,
            404: error_response("No such customer or price in this account (`not_found`; `details.fields` names it)."),
            409: error_response(
                "No usable Stripe connection (`stripe_not_connected`, `stripe_auth_failed`), or the request id was "
                "used for another customer (`request_id_reused`)."
            ),
        },
        examples=[CREATE_EXAMPLE],
    ),
    void=extend_schema(
        summary="Void a payment link (its page then refuses payment)",
        description="A paid link cannot be voided: Stripe's refusal is a 422 with its message.",
        tags=TAG,
        request=VoidSerializer,
        responses={200: PaymentLinkSerializer, **STRIPE_WRITE_ERRORS},
    ),
)
class PaymentLinkViewSet(AccountMirrorViewSet):
    model = Invoice
    serializer_class = PaymentLinkSerializer
    filterset_class = PaymentLinkFilter
    ordering_fields = ("created", "due_date", "amount_due")
    write_actions = frozenset({"create", "void"})
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        return payment_link_list(account=self.request.account)

    def get_object(self):
        return payment_link_get(account=self.request.account, invoice_stripe_id=self.kwargs["stripe_id"])

    def create(self, request):
        body = PaymentLinkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = body.validated_data
        invoice = payment_link_create(
            account=request.account,
            user=request.user,
            customer_stripe_id=fields["customer"],
            line_items=[LineItem(**item) for item in fields["line_items"]],
            due_date=fields.get("due_date"),
            days_until_due=fields.get("days_until_due"),
            memo=fields.get("memo", ""),
            request_id=fields["request_id"],
        )
        link = payment_link_get(account=request.account, invoice_stripe_id=invoice.stripe_id)
        return Response(PaymentLinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def void(self, request, stripe_id):
        link = self.get_object()
        VoidSerializer(data=request.data).is_valid(raise_exception=True)
        payment_link_void(account=request.account, invoice=link)
        return Response(PaymentLinkSerializer(self.get_object()).data)
