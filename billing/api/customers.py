"""The account's customers (SPEC §4): read from the mirror, written to its Stripe first (services/customers.py)."""

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from billing.api.mirror_base import (
    AccountMirrorViewSet,
    MirrorFilterSet,
    StrictSerializer,
    StripeObjectSerializer,
    client_request_id,
)
from billing.models import Customer
from billing.services.customers import customer_create, customer_delete, customer_update
from core.api.schema import error_response

STRIPE_WRITE_ERRORS = {
    409: error_response("The account has no usable Stripe connection (`stripe_not_connected`, `stripe_auth_failed`)."),
    422: error_response("Stripe refused the request (`stripe_rejected`); `message` carries Stripe's reason."),
    502: error_response("Stripe is unreachable or failing (`stripe_unavailable`); nothing was written."),
}


class CustomerSerializer(StripeObjectSerializer):
    default_payment_method = serializers.CharField(source="default_payment_method_stripe_id", read_only=True)
    contact_id = serializers.SerializerMethodField(help_text="The CRM contact this customer is linked to, if any.")

    class Meta:
        model = Customer
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "email",
            "name",
            "phone",
            "description",
            "currency",
            "balance",
            "delinquent",
            "default_payment_method",
            "contact_id",
        )

    def get_contact_id(self, customer) -> str | None:
        link = getattr(customer, "contact_link", None)
        return link.contact_id if link else None


class CustomerWriteSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    metadata = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500),
        required=False,
        help_text="Stripe metadata: up to 50 keys; an empty value removes a key.",
    )
    request_id = serializers.CharField(
        required=False,
        max_length=200,
        write_only=True,
        help_text="Makes a create idempotent (or send an `Idempotency-Key` header): the same id creates once.",
    )

    def validate_metadata(self, value):
        if len(value) > 50 or any(len(key) > 40 for key in value):
            raise serializers.ValidationError("At most 50 keys, each at most 40 characters.")
        return value


class CustomerFilter(MirrorFilterSet):
    email = filters.CharFilter(field_name="email", lookup_expr="iexact", help_text="Exact email, any case.")
    search = filters.CharFilter(method="filter_search", help_text="Part of the email or name, any case.")
    currency = filters.CharFilter(field_name="currency", lookup_expr="iexact")
    delinquent = filters.BooleanFilter()

    class Meta:
        model = Customer
        fields = ["email", "search", "currency", "delinquent", "created_after", "created_before"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(email__icontains=value) | Q(name__icontains=value) | Q(stripe_id=value))


CUSTOMER_EXAMPLE = OpenApiExample(
    "A customer",
    value={"email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"plan": "gold"}},
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary="List the account's customers", tags=["billing: customers"]),
    retrieve=extend_schema(summary="One customer", tags=["billing: customers"]),
    create=extend_schema(
        summary="Create a customer in the account's Stripe",
        tags=["billing: customers"],
        request=CustomerWriteSerializer,
        responses={201: CustomerSerializer, **STRIPE_WRITE_ERRORS},
        examples=[CUSTOMER_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Update a customer",
        tags=["billing: customers"],
        request=CustomerWriteSerializer,
        responses={200: CustomerSerializer, **STRIPE_WRITE_ERRORS},
        examples=[CUSTOMER_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a customer in the account's Stripe (kept in the mirror as deleted)",
        tags=["billing: customers"],
        responses={204: None, **STRIPE_WRITE_ERRORS},
    ),
)
class CustomerViewSet(AccountMirrorViewSet):
    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("created", "email", "name", "balance")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("contact_link")

    def create(self, request):
        body = CustomerWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        request_id = client_request_id(request, fields.pop("request_id", None))
        customer = customer_create(account=request.account, fields=fields, request_id=request_id)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, stripe_id):
        customer = self.get_object()
        body = CustomerWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        fields.pop("request_id", None)
        customer = customer_update(account=request.account, customer=customer, fields=fields)
        return Response(CustomerSerializer(customer).data)

    def destroy(self, request, stripe_id):
        customer_delete(account=request.account, customer=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
