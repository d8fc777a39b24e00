"""A customer's own objects (SPEC §4, issue 11 item 1), under `customers/<customer_id>/`: its invoices, payment
methods and subscriptions, read from the mirror and written to the account's Stripe first
(services/customer_billing.py), and its link to a CRM contact.

The customer is found in the token's account first (another account's customer is a 404), then the object under
it: another customer's payment method or subscription is a 404 here too, whoever it belongs to."""

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.customers import STRIPE_WRITE_ERRORS, CustomerSerializer
from billing.api.mirror_base import (
    AccountMirrorViewSet,
    MirrorFilterSet,
    StrictSerializer,
    StripeObjectSerializer,
    client_request_id,
)
from billing.api.payments import status_filter
from billing.api.subscriptions import (  # one shape for an invoice or a subscription, wherever listed
    INVOICE_STATUSES,
    SUBSCRIPTION_STATUSES,
    InvoiceSerializer,
    SubscriptionSerializer,
)
from billing.models import Invoice, PaymentMethod, Subscription, SubscriptionItem
from billing.selectors.customer_billing import customer_get, customer_object_get, customer_object_list
from billing.services.customer_billing import (
    CONTACT_ID_MAX,
    PAYMENT_METHOD_ID,
    customer_contact_link,
    customer_contact_unlink,
    customer_default_payment_method_set,
    payment_method_attach,
    payment_method_detach,
    subscription_cancel,
    subscription_create,
    subscription_resume,
)
from core.api.schema import error_response

CUSTOMER_ID = OpenApiParameter(
    "customer_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The customer's Stripe id (`cus_...`)."
)
CONFLICT_OR_STRIPE = {
    **STRIPE_WRITE_ERRORS,
    409: error_response(
        "No usable Stripe connection (`stripe_not_connected`, `stripe_auth_failed`), or the payment method is "
        "attached to another customer (`payment_method_attached_elsewhere`)."
    ),
}


# --- serializers --------------------------------------------------------------------------------------------


class CardSerializer(serializers.Serializer):
    brand = serializers.CharField(source="card_brand")
    last4 = serializers.CharField(source="card_last4")
    exp_month = serializers.IntegerField(source="card_exp_month", allow_null=True)
    exp_year = serializers.IntegerField(source="card_exp_year", allow_null=True)


class PaymentMethodSerializer(StripeObjectSerializer):
    customer = serializers.CharField(source="customer_stripe_id", read_only=True, help_text="Empty once detached.")
    card = serializers.SerializerMethodField()
    is_default = serializers.SerializerMethodField(help_text="The customer's default for invoices.")

    class Meta:
        model = PaymentMethod
        fields = (*StripeObjectSerializer.BASE_FIELDS, "type", "customer", "card", "is_default")

    def get_card(self, row) -> CardSerializer(allow_null=True):  # type: ignore[valid-type]
        return CardSerializer(row).data if row.type == "card" else None

    def get_is_default(self, row) -> bool:
        customer = self.context.get("customer")
        return bool(customer and row.customer_stripe_id and customer.default_payment_method_stripe_id == row.stripe_id)


REQUEST_ID = {
    "required": False,
    "max_length": 200,
    "help_text": "Makes the request idempotent (or send an `Idempotency-Key` header): the same id acts once.",
}


class PaymentMethodAttachSerializer(StrictSerializer):
    payment_method = serializers.RegexField(
        rf"^{PAYMENT_METHOD_ID.pattern}$",
        max_length=255,
        help_text="A payment method id (`pm_...`) made by Stripe.js, or a test one such as `pm_card_visa`.",
        error_messages={"invalid": "A payment method id: pm_..."},
    )
    request_id = serializers.CharField(**REQUEST_ID)


class SubscriptionCreateSerializer(StrictSerializer):
    price = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,255}$",
        help_text="A recurring price of the account's catalogue (`price_...`).",
        error_messages={"invalid": "A price id: price_..."},
    )
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=2_147_483_647)
    request_id = serializers.CharField(**REQUEST_ID)


class ContactLinkSerializer(StrictSerializer):
    contact_id = serializers.RegexField(
        r"^[1-9][0-9]{0,18}$",
        help_text="The CRM contact's id (a positive whole number).",
        error_messages={"invalid": "A contact id is a positive whole number."},
    )

    def validate_contact_id(self, value):
        if int(value) > CONTACT_ID_MAX:
            raise serializers.ValidationError("A contact id is a positive whole number.")
        return value


# --- filters ------------------------------------------------------------------------------------------------


class CustomerInvoiceFilter(MirrorFilterSet):
    status = status_filter(INVOICE_STATUSES, "invoice")

    class Meta:
        model = Invoice
        fields = ["status", "created_after", "created_before"]


class CustomerSubscriptionFilter(MirrorFilterSet):
    status = status_filter(SUBSCRIPTION_STATUSES, "subscription")

    class Meta:
        model = Subscription
        fields = ["status", "created_after", "created_before"]


class CustomerPaymentMethodFilter(MirrorFilterSet):
    class Meta:
        model = PaymentMethod
        fields = ["created_after", "created_before"]


# --- views --------------------------------------------------------------------------------------------------


@extend_schema(parameters=[CUSTOMER_ID])
class CustomerObjectViewSet(AccountMirrorViewSet):
    """One mirrored type under one customer: `customers/<customer_id>/<objects>/`."""

    write_actions = frozenset({"create", "detach", "make_default", "cancel", "resume"})

    def customer(self):
        if not hasattr(self, "_customer"):
            self._customer = customer_get(account=self.request.account, stripe_id=self.kwargs["customer_id"])
        return self._customer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request account
            return self.model.objects.none()
        return customer_object_list(account=self.request.account, customer=self.customer(), model=self.model)

    def get_object(self):
        return customer_object_get(
            account=self.request.account,
            customer=self.customer(),
            model=self.model,
            stripe_id=self.kwargs[self.lookup_url_kwarg],
        )


@extend_schema_view(
    list=extend_schema(summary="The customer's invoices", tags=["billing: customers"]),
    retrieve=extend_schema(summary="One invoice of the customer", tags=["billing: customers"]),
)
class CustomerInvoiceViewSet(CustomerObjectViewSet):
    model = Invoice
    serializer_class = InvoiceSerializer
    filterset_class = CustomerInvoiceFilter
    ordering_fields = ("created", "amount_due", "due_date")


PAYMENT_METHOD_EXAMPLE = OpenApiExample(
    "A test card", value={"payment_method": "pm_card_visa", "request_id": "attach-7f3a"}, request_only=True
)


@extend_schema_view(
    list=extend_schema(summary="The customer's payment methods", tags=["billing: customers"]),
    retrieve=extend_schema(summary="One payment method of the customer", tags=["billing: customers"]),
    create=extend_schema(
        summary="Attach a payment method to the customer",
        description="A declined card is a 422 with Stripe's reason.",
        tags=["billing: customers"],
        request=PaymentMethodAttachSerializer,
        responses={201: PaymentMethodSerializer, **CONFLICT_OR_STRIPE},
        examples=[PAYMENT_METHOD_EXAMPLE],
    ),
    detach=extend_schema(
        summary="Detach a payment method from the customer",
        description="If it was the customer's default, the customer has no default afterwards.",
        tags=["billing: customers"],
        request=None,
        responses={200: PaymentMethodSerializer, **STRIPE_WRITE_ERRORS},
    ),
    make_default=extend_schema(
        summary="Make a payment method the customer's default",
        description="Sets the customer's `invoice_settings[default_payment_method]`; answers the customer.",
        tags=["billing: customers"],
        request=None,
        responses={200: CustomerSerializer, **STRIPE_WRITE_ERRORS},
    ),
)
class CustomerPaymentMethodViewSet(CustomerObjectViewSet):
    model = PaymentMethod
    serializer_class = PaymentMethodSerializer
    filterset_class = CustomerPaymentMethodFilter

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["customer"] = self.customer()
        return context

    def create(self, request, customer_id):
        body = PaymentMethodAttachSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = self.customer()
        method = payment_method_attach(
            account=request.account,
            customer=customer,
            payment_method=body.validated_data["payment_method"],
            request_id=client_request_id(request, body.validated_data.get("request_id")),
        )
        return Response(self.get_serializer(method).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def detach(self, request, customer_id, stripe_id):
        method = payment_method_detach(
            account=request.account, customer=self.customer(), payment_method=self.get_object()
        )
        return Response(PaymentMethodSerializer(method).data)

    @action(detail=True, methods=["post"], url_path="default", url_name="default")
    def make_default(self, request, customer_id, stripe_id):
        customer = customer_default_payment_method_set(
            account=request.account, customer=self.customer(), payment_method=self.get_object()
        )
        return Response(CustomerSerializer(customer).data)


SUBSCRIPTION_EXAMPLE = OpenApiExample(
    "Two seats", value={"price": "price_1PgrowthMonthly", "quantity": 2, "request_id": "sub-91c2"}, request_only=True
)


@extend_schema_view(
    list=extend_schema(summary="The customer's subscriptions", tags=["billing: customers"]),
    retrieve=extend_schema(summary="One subscription of the customer", tags=["billing: customers"]),
    create=extend_schema(
        summary="Subscribe the customer to a recurring price",
        description="Charges the customer's default payment method for the first invoice.",
        tags=["billing: customers"],
        request=SubscriptionCreateSerializer,
        responses={201: SubscriptionSerializer, **STRIPE_WRITE_ERRORS},
        examples=[SUBSCRIPTION_EXAMPLE],
    ),
    cancel=extend_schema(
        summary="Cancel the subscription at the end of its period",
        tags=["billing: customers"],
        request=None,
        responses={200: SubscriptionSerializer, **STRIPE_WRITE_ERRORS},
    ),
    resume=extend_schema(
        summary="Undo a cancellation at period end",
        tags=["billing: customers"],
        request=None,
        responses={200: SubscriptionSerializer, **STRIPE_WRITE_ERRORS},
    ),
)
class CustomerSubscriptionViewSet(CustomerObjectViewSet):
    model = Subscription
    serializer_class = SubscriptionSerializer
    filterset_class = CustomerSubscriptionFilter

    def get_queryset(self):
        items = Prefetch("items", queryset=SubscriptionItem.objects.order_by("created", "id"))
        return super().get_queryset().prefetch_related(items)

    def create(self, request, customer_id):
        body = SubscriptionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subscription = subscription_create(
            account=request.account,
            customer=self.customer(),
            price=body.validated_data["price"],
            quantity=body.validated_data.get("quantity"),
            request_id=client_request_id(request, body.validated_data.get("request_id")),
        )
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, customer_id, stripe_id):
        subscription = subscription_cancel(account=request.account, subscription=self.get_object())
        return Response(SubscriptionSerializer(subscription).data)

    @action(detail=True, methods=["post"])
    def resume(self, request, customer_id, stripe_id):
        subscription = subscription_resume(account=request.account, subscription=self.get_object())
        return Response(SubscriptionSerializer(subscription).data)


@extend_schema(parameters=[CUSTOMER_ID], tags=["billing: customers"])
class CustomerContactView(APIView):
    """The customer's link to a CRM contact: our record, not Stripe's, so any member may set it (like notes)."""

    parser_classes = [JSONParser]  # as every billing API view: JSON only

    @extend_schema(
        summary="Link the customer to a CRM contact",
        description="The contact id's format is checked; that the contact exists is checked by the CRM once it "
        "registers its check (docs/billing-api.md). Linking again replaces the link.",
        request=ContactLinkSerializer,
        responses={200: CustomerSerializer},
        examples=[OpenApiExample("A contact", value={"contact_id": "4821"}, request_only=True)],
    )
    def put(self, request, customer_id):
        body = ContactLinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = customer_get(account=request.account, stripe_id=customer_id)
        customer_contact_link(
            account=request.account,
            customer=customer,
            contact_id=body.validated_data["contact_id"],
            user=request.user,
        )
        return Response(CustomerSerializer(customer).data)

    @extend_schema(summary="Unlink the customer from its CRM contact", request=None, responses={204: None})
    def delete(self, request, customer_id):
        customer = customer_get(account=request.account, stripe_id=customer_id)
        customer_contact_unlink(account=request.account, customer=customer)
        return Response(status=status.HTTP_204_NO_CONTENT)
