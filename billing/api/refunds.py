"""The account refunding its own customer (SPEC §4, §11): `POST charges/<id>/refund/`, and the refunds it asked
for, `GET refund-requests/`. A thin view over services/refunds.py (docs/billing-api.md, "Refunds")."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin
from billing.api.customers import STRIPE_WRITE_ERRORS
from billing.api.mirror_base import MirrorFilterSet, StrictSerializer
from billing.models import Charge, RefundRequest
from billing.selectors.mirror import mirror_get
from billing.selectors.refunds import refund_request_list
from billing.services.refunds import REASONS, charge_refund
from core.api.pagination import KeysetPagination
from core.api.schema import error_response

# Printable ASCII, no blanks: it travels to Stripe inside the Idempotency-Key header.
REQUEST_ID_PATTERN = r"^[!-~]{8,200}$"
MAX_AMOUNT = 99_999_999  # Stripe's largest amount (eight digits in minor units)


class RefundCreateSerializer(StrictSerializer):
    amount = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_AMOUNT,
        help_text="In the charge's currency, minor units. Omitted: all that is left to refund.",
    )
    reason = serializers.ChoiceField(choices=REASONS, help_text="Stripe's reason for the refund.")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Free text kept by us (not sent to Stripe): what the customer said, a ticket number.",
    )
    refund_request_id = serializers.RegexField(
        REQUEST_ID_PATTERN,
        help_text="The client's id for this refund (8–200 printable ASCII characters, no blanks): the same id "
        "refunds once, even sent twice at once.",
        error_messages={"invalid": "8 to 200 printable ASCII characters, without blanks."},
    )


class RequesterSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)


class RefundRequestSerializer(serializers.ModelSerializer):
    refund_request_id = serializers.CharField(source="request_id", read_only=True)
    charge = serializers.CharField(source="charge_stripe_id", read_only=True, help_text="The charge's Stripe id.")
    refund = serializers.CharField(
        source="refund_stripe_id",
        read_only=True,
        allow_null=True,
        help_text="The refund's Stripe id, once Stripe made it.",
    )
    amount = serializers.IntegerField(read_only=True, allow_null=True, help_text="Asked for; null: what was left.")
    refunded_amount = serializers.IntegerField(read_only=True, allow_null=True, help_text="What Stripe refunded.")
    requested_by = RequesterSerializer(read_only=True, allow_null=True, help_text="Null once the user is deleted.")
    error = serializers.CharField(read_only=True, help_text="Why it failed (Stripe's message or ours), else empty.")

    class Meta:
        model = RefundRequest
        fields = (
            "refund_request_id",
            "status",
            "charge",
            "refund",
            "amount",
            "refunded_amount",
            "currency",
            "reason",
            "note",
            "requested_by",
            "error",
            "created_at",
            "updated_at",
        )

    def to_representation(self, row):
        data = super().to_representation(row)
        data["refund"] = data["refund"] or None
        return data


class ChargeTotalsSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="stripe_id", read_only=True)
    remaining = serializers.SerializerMethodField(help_text="Left to refund, in minor units.")

    class Meta:
        model = Charge
        fields = ("id", "amount", "amount_refunded", "refunded", "remaining", "currency")

    def get_remaining(self, charge) -> int:
        return max(charge.amount - charge.amount_refunded, 0)


class RefundResultSerializer(RefundRequestSerializer):
    charge_totals = serializers.SerializerMethodField(help_text="The charge after the refund, from the mirror.")

    class Meta(RefundRequestSerializer.Meta):
        fields = (*RefundRequestSerializer.Meta.fields, "charge_totals")

    def get_charge_totals(self, row) -> ChargeTotalsSerializer:
        return ChargeTotalsSerializer(self.context["charge"]).data


REFUND_ERRORS = {
    **STRIPE_WRITE_ERRORS,
    409: error_response(
        "No usable Stripe connection (`stripe_not_connected`, `stripe_auth_failed`); this `refund_request_id` is "
        "being refunded right now (`refund_in_progress`: ask again for its result), or was first used for another "
        "charge, amount or reason (`refund_request_id_reused`)."
    ),
    422: error_response(
        "More than what is left on the charge (`refund_exceeds_remaining`, `details.remaining`), already fully "
        "refunded (`charge_already_refunded`), or Stripe refused (`stripe_rejected`, with Stripe's message)."
    ),
    502: error_response(
        "Stripe is unreachable or failing (`stripe_unavailable`): nothing was written to the mirror; the same "
        "`refund_request_id` may be sent again (Stripe's idempotency key makes the retry safe)."
    ),
}


class ChargeRefundView(APIView):
    permission_classes = [IsAccountAdmin]
    parser_classes = [JSONParser]  # as every body of the billing API: JSON only

    @extend_schema(
        summary="Refund a charge, all of what is left or part of it (owners and admins)",
        tags=["billing: refunds"],
        request=RefundCreateSerializer,
        responses={
            201: OpenApiResponse(RefundResultSerializer, description="Refunded now."),
            200: OpenApiResponse(
                RefundResultSerializer, description="This `refund_request_id` had already refunded: its result."
            ),
            404: error_response("No such charge in this account (`not_found`)."),
            **REFUND_ERRORS,
        },
        examples=[
            OpenApiExample(
                "A partial refund",
                value={
                    "amount": 500,
                    "reason": "requested_by_customer",
                    "note": "Ticket #4411: one seat unused",
                    "refund_request_id": "5f1c1e0a-refund-1",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, charge_id: str):
        body = RefundCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = body.validated_data
        charge = mirror_get(account=request.account, model=Charge, stripe_id=charge_id)
        outcome = charge_refund(
            account=request.account,
            charge=charge,
            amount=fields.get("amount"),
            reason=fields["reason"],
            request_id=fields["refund_request_id"],
            user=request.user,
            note=fields.get("note", ""),
        )
        data = RefundResultSerializer(outcome.request, context={"charge": outcome.charge}).data
        return Response(data, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


class RefundRequestFilter(MirrorFilterSet):
    # Our rows, not the mirror's: asked for at `created_at`.
    created_after = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Asked for at or after (ISO 8601)."
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Asked for before (ISO 8601)."
    )
    charge = filters.CharFilter(field_name="charge_stripe_id", help_text="A charge's Stripe id.")
    status = filters.ChoiceFilter(choices=RefundRequest.Status.choices)

    class Meta:
        model = RefundRequest
        fields = ["charge", "status", "created_after", "created_before"]


@extend_schema_view(
    list=extend_schema(
        summary="The refunds the account asked for: who, why, and what Stripe answered",
        tags=["billing: refunds"],
    )
)
class RefundRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Read by any member (the default permission)."""

    serializer_class = RefundRequestSerializer
    filterset_class = RefundRequestFilter
    pagination_class = KeysetPagination
    ordering = "-created_at"
    ordering_fields = ("created_at",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RefundRequest.objects.none()
        return refund_request_list(account=self.request.account)
