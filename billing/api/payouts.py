"""The account's payouts (SPEC §4, issue 11 item 6), read from the mirror: the list, one payout (with the totals of
what it paid out), its balance transactions (a cursor-paged list of their own), and a summary by status and by
arrival month per currency (selectors/payouts.py)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts.tenancy import IsAccountMember
from billing.api.mirror_base import AccountMirrorViewSet, MirrorFilterSet, StripeObjectSerializer
from billing.models import BalanceTransaction, Payout
from billing.selectors.payouts import (
    payout_balance_totals,
    payout_balance_transactions,
    payout_get,
    payout_list,
    payout_summary,
)
from core.api.pagination import KeysetPagination
from core.api.schema import error_response

STATUSES = ("paid", "pending", "in_transit", "canceled", "failed")
TAG = ["billing: payouts"]


class PayoutSerializer(StripeObjectSerializer):
    balance_transaction = serializers.CharField(source="balance_transaction_stripe_id", read_only=True)

    class Meta:
        model = Payout
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "amount",
            "currency",
            "status",
            "arrival_date",
            "automatic",
            "method",
            "type",
            "description",
            "balance_transaction",
            "failure_code",
            "failure_message",
        )


class PayoutTotalsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Balance transactions paid out (the payout's own not counted).")
    amount = serializers.IntegerField(help_text="Their gross, minor units.")
    fee = serializers.IntegerField(help_text="Their fees, minor units.")
    net = serializers.IntegerField(help_text="Their net, minor units: what the payout paid out.")
    url = serializers.URLField(help_text="The balance transactions, cursor-paged.")


class PayoutDetailSerializer(PayoutSerializer):
    balance_transactions = serializers.SerializerMethodField()

    class Meta(PayoutSerializer.Meta):
        fields = (*PayoutSerializer.Meta.fields, "balance_transactions")

    @extend_schema_field(PayoutTotalsSerializer)
    def get_balance_transactions(self, payout) -> dict:
        return self.context["balance_transactions"]


class BalanceTransactionSerializer(StripeObjectSerializer):
    source = serializers.CharField(source="source_stripe_id", read_only=True)

    class Meta:
        model = BalanceTransaction
        fields = (
            *StripeObjectSerializer.BASE_FIELDS,
            "type",
            "reporting_category",
            "amount",
            "fee",
            "net",
            "currency",
            "status",
            "available_on",
            "source",
            "description",
        )


class PayoutFilter(MirrorFilterSet):
    status = filters.ChoiceFilter(choices=[(s, s) for s in STATUSES])
    currency = filters.CharFilter(field_name="currency", lookup_expr="iexact", help_text="ISO 4217, any case.")
    arrival_after = filters.IsoDateTimeFilter(
        field_name="arrival_date", lookup_expr="gte", help_text="Arriving at or after (ISO 8601)."
    )
    arrival_before = filters.IsoDateTimeFilter(
        field_name="arrival_date", lookup_expr="lt", help_text="Arriving before (ISO 8601)."
    )

    class Meta:
        model = Payout
        fields = ["status", "currency", "arrival_after", "arrival_before", "created_after", "created_before"]


class BalanceTransactionFilter(MirrorFilterSet):
    type = filters.CharFilter(field_name="type", help_text="Stripe's type: `charge`, `refund`, `payout`, ...")
    reporting_category = filters.CharFilter(field_name="reporting_category")

    class Meta:
        model = BalanceTransaction
        fields = ["type", "reporting_category", "created_after", "created_before"]


class SummaryQuerySerializer(serializers.Serializer):
    tz = serializers.CharField(required=False, default="UTC", help_text="IANA time zone of the months (default UTC).")

    def validate_tz(self, value):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(
                f"Not a time zone: {value!r}. Use an IANA name such as Europe/Paris or UTC."
            ) from None


class TotalsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Minor units.")


class StatusTotalsSerializer(TotalsSerializer):
    status = serializers.CharField()


class MonthTotalsSerializer(TotalsSerializer):
    month = serializers.CharField(allow_null=True, help_text="`YYYY-MM` of arrival in `tz`.")
    by_status = StatusTotalsSerializer(many=True)


class CurrencySummarySerializer(TotalsSerializer):
    currency = serializers.CharField()
    by_status = StatusTotalsSerializer(many=True)
    by_month = MonthTotalsSerializer(many=True, help_text="Months with payouts, oldest first.")


class PayoutSummarySerializer(serializers.Serializer):
    tz = serializers.CharField()
    currencies = CurrencySummarySerializer(many=True)


SUMMARY_PARAMETERS = [
    OpenApiParameter("tz", OpenApiTypes.STR, description="IANA time zone of the months (default UTC)."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=STATUSES),
    OpenApiParameter("currency", OpenApiTypes.STR, description="ISO 4217, any case."),
    *(
        OpenApiParameter(name, OpenApiTypes.DATETIME, description=description)
        for name, description in (
            ("arrival_after", "Arriving at or after (ISO 8601)."),
            ("arrival_before", "Arriving before (ISO 8601)."),
            ("created_after", "Created at or after (ISO 8601)."),
            ("created_before", "Created before (ISO 8601)."),
        )
    ),
]


@extend_schema_view(
    list=extend_schema(summary="List the account's payouts", tags=TAG),
    retrieve=extend_schema(
        summary="One payout, with the totals of what it paid out",
        tags=TAG,
        responses={200: PayoutDetailSerializer},
    ),
    summary=extend_schema(
        summary="Payouts by status and by arrival month, per currency",
        tags=TAG,
        parameters=SUMMARY_PARAMETERS,
        responses={
            200: PayoutSummarySerializer,
            400: error_response("A bad `tz`, date or status (`validation_error`; `details.fields` names it)."),
        },
    ),
)
class PayoutViewSet(AccountMirrorViewSet):
    model = Payout
    serializer_class = PayoutSerializer
    filterset_class = PayoutFilter
    ordering_fields = ("created", "arrival_date", "amount")
    write_actions = frozenset()

    def get_object(self):
        return payout_get(account=self.request.account, stripe_id=self.kwargs["stripe_id"])

    def retrieve(self, request, stripe_id):
        payout = self.get_object()
        totals = payout_balance_totals(account=request.account, payout=payout)
        url = reverse(
            "billing:payout-balance-transaction-list", kwargs={"payout_stripe_id": payout.stripe_id}, request=request
        )
        return Response(PayoutDetailSerializer(payout, context={"balance_transactions": {**totals, "url": url}}).data)

    @action(detail=False, pagination_class=None)
    def summary(self, request):
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        zone = query.validated_data["tz"]
        payouts = self.filter_queryset(payout_list(account=request.account))
        return Response({"tz": str(zone), "currencies": payout_summary(payouts=payouts, tz=zone)})


@extend_schema_view(
    list=extend_schema(summary="The balance transactions a payout paid out (its own included)", tags=TAG),
)
class PayoutBalanceTransactionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`payouts/<id>/balance-transactions/`: cursor-paged; a payout of another account is a 404."""

    serializer_class = BalanceTransactionSerializer
    filterset_class = BalanceTransactionFilter
    pagination_class = KeysetPagination
    ordering = "-created"
    ordering_fields = ("created", "amount", "net")
    permission_classes = [IsAccountMember]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BalanceTransaction.objects.none()
        payout = payout_get(account=self.request.account, stripe_id=self.kwargs["payout_stripe_id"])
        return payout_balance_transactions(account=self.request.account, payout=payout)
