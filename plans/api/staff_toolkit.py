"""The staff toolkit on our billing of accounts (SPEC §9, issue 16) under /api/v1/admin/billing/: one account's
platform customer and subscription beside Stripe's, a force sync, a verified cancellation, and refunds of platform
charges. Staff holding `billing.billing_admin_ops` (JWT or the admin session)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from accounts.tenancy import STAFF_AUTHENTICATION, IsBillingStaff
from core.api.schema import error_response
from core.api.serializers import StrictSerializer
from core.errors import NotFound
from plans.models import PlatformRefund
from plans.services.platform_refunds import REASONS, platform_charge_refund
from plans.services.staff_subscription import (
    account_subscription_force_sync,
    account_subscription_staff_cancel,
    customer_compare,
)

NO_ACCOUNT = "No account {}."


def _account(account_id) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound(NO_ACCOUNT.format(account_id), code="account_not_found")
    return account


class SubscriptionSideSerializer(serializers.Serializer):
    status = serializers.CharField()
    plan = serializers.CharField()
    plan_version = serializers.IntegerField()
    stripe_customer_id = serializers.CharField(allow_blank=True)
    stripe_subscription_id = serializers.CharField(allow_blank=True)
    cancel_at_period_end = serializers.BooleanField()
    current_period_end = serializers.DateTimeField(allow_null=True)
    past_due_since = serializers.DateTimeField(allow_null=True)
    unknown_price_id = serializers.CharField(allow_blank=True)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CustomerCompareSerializer(serializers.Serializer):
    account_id = serializers.UUIDField()
    ours = SubscriptionSideSerializer()
    stripe = serializers.DictField(
        allow_null=True,
        help_text="Stripe's live subscription in our terms (status, plan, price, ids, cancel_at_period_end, "
        "current_period_end) and its customer; `subscription: null` when the account has none; null when Stripe "
        "could not be asked (see `error`).",
    )
    differs = serializers.ListField(child=serializers.CharField())
    error = ErrorBodySerializer(required=False)


class SyncResultSerializer(serializers.Serializer):
    previous = SubscriptionSideSerializer()
    updated = SubscriptionSideSerializer()


class CancelResultSerializer(SyncResultSerializer):
    stripe_status = serializers.CharField()


class PlatformRefundCreateSerializer(StrictSerializer):
    charge_id = serializers.RegexField(r"^(ch|py)_[A-Za-z0-9_]{1,250}$")
    amount = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Minor units; none: all that is left."
    )
    reason = serializers.ChoiceField(choices=REASONS)
    refund_request_id = serializers.CharField(min_length=8, max_length=255, help_text="Stripe's idempotency key.")


class PlatformRefundSerializer(serializers.ModelSerializer):
    refund_request_id = serializers.CharField(source="request_id")
    account_id = serializers.UUIDField(allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)

    class Meta:
        model = PlatformRefund
        fields = (
            "refund_request_id",
            "charge_id",
            "account_id",
            "amount",
            "currency",
            "reason",
            "requested_by",
            "status",
            "refund_stripe_id",
            "refunded_amount",
            "created_at",
        )
        read_only_fields = fields


class CustomerView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        responses={200: CustomerCompareSerializer, 404: error_response("No such account.")},
        summary="The account's platform customer and subscription beside Stripe's live copy, with what differs",
    )
    def get(self, request, account_id):
        return Response(customer_compare(account=_account(account_id)))


class SyncView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        request=None,
        responses={
            200: SyncResultSerializer,
            404: error_response("No such account."),
            409: error_response("No platform subscription, or Stripe's price maps to no plan (nothing changed)."),
            502: error_response("The platform's Stripe is unreachable or failing (nothing changed)."),
        },
        summary="Force Stripe → DB for the account's platform subscription",
    )
    def post(self, request, account_id):
        return Response(account_subscription_force_sync(account=_account(account_id)))


class CancelView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        request=None,
        responses={
            200: CancelResultSerializer,
            404: error_response("No such account."),
            409: error_response("The account has no platform subscription."),
            502: error_response("Stripe unreachable, failing, or did not confirm the cancellation (DB untouched)."),
        },
        summary="Cancel the account's platform subscription now, verified in Stripe before our DB is written",
    )
    def post(self, request, account_id):
        return Response(account_subscription_staff_cancel(account=_account(account_id)))


class RefundsView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        request=PlatformRefundCreateSerializer,
        responses={
            201: PlatformRefundSerializer,
            200: PlatformRefundSerializer,
            400: error_response("Bad input (refund_request_id shorter than 8 characters, unknown reason, ...)."),
            404: error_response("The platform's Stripe has no such charge."),
            409: error_response(
                "The same refund_request_id is being refunded right now, or was used for another refund."
            ),
            422: error_response("More than what is left, already fully refunded, or Stripe refused (its message)."),
            502: error_response("The platform's Stripe is unreachable or failing; retry with the same id."),
        },
        summary="Refund a platform charge (201; 200 with the first result when the refund_request_id was used)",
    )
    def post(self, request):
        body = PlatformRefundCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = platform_charge_refund(
            charge_id=data["charge_id"],
            amount=data.get("amount"),
            reason=data["reason"],
            request_id=data["refund_request_id"],
            user=request.user,
        )
        return Response(
            PlatformRefundSerializer(outcome.refund).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )
