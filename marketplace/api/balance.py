"""OneBalance (SPEC §5, §11): the balance and its entries, top-ups by payment intent, usage debits."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from accounts.models import Account
from accounts.tenancy import IsAccountAdmin
from core.api.schema import error_response
from marketplace.api.serializers import (
    LedgerEntrySerializer,
    SubAccountBalanceSerializer,
    TopUpCreateSerializer,
    TopUpSerializer,
    UsageCreateSerializer,
    UsageResultSerializer,
)
from marketplace.roles import require_agency
from marketplace.selectors.balance import agency_balances, balance_view
from marketplace.services.balance import usage_debit
from marketplace.services.top_ups import top_up_create

TAGS = ["marketplace: balance"]
NOT_SUB = error_response("Not a sub-account of an agency with a connected Stripe (`not_a_sub_account`).")

BalanceResponse = inline_serializer(
    "BalanceResponse",
    {
        "sub_account": serializers.UUIDField(),
        "balance": serializers.IntegerField(help_text="Minor units of `currency` (BASE_CURRENCY)."),
        "currency": serializers.CharField(),
        "count": serializers.IntegerField(help_text="Entries in all."),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "entries": LedgerEntrySerializer(many=True, help_text="Newest first, one page."),
    },
)


class BalanceView(GenericAPIView):
    serializer_class = LedgerEntrySerializer

    @extend_schema(
        summary="The balance and its entries (newest first, paginated)",
        tags=TAGS,
        parameters=[OpenApiParameter("sub_account", str, description="An agency: one of its sub-accounts' balance.")],
        responses={
            200: BalanceResponse,
            400: error_response("A malformed `page` or `page_size` (`validation_error`)."),
            403: NOT_SUB,
            404: error_response("No such sub-account, or a page past the end."),
        },
    )
    def get(self, request):
        view = balance_view(account=request.account, sub_account_id=request.query_params.get("sub_account"))
        page = self.paginate_queryset(view.entries)
        return Response(
            {
                "sub_account": str(view.account.pk),
                "balance": view.amount,
                "currency": view.currency,
                "count": self.paginator.page.paginator.count,
                "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(),
                "entries": LedgerEntrySerializer(page, many=True).data,
            }
        )


class TopUpView(GenericAPIView):
    permission_classes = [IsAccountAdmin]
    serializer_class = TopUpSerializer

    @extend_schema(
        summary="Top up: a payment intent on the agency's Stripe; credited when Stripe confirms the payment",
        tags=TAGS,
        request=TopUpCreateSerializer,
        responses={
            201: TopUpSerializer,
            200: TopUpSerializer,
            400: error_response(
                "No exchange rate from the currency to BASE_CURRENCY (`no_exchange_rate`), or invalid."
            ),
            403: NOT_SUB,
            409: error_response(
                "The id is being processed (`request_in_progress`) or was used for another top-up "
                "(`top_up_request_id_reused`), or the agency's Stripe credentials were refused (`stripe_auth_failed`)."
            ),
            422: error_response("The agency's Stripe refused the payment intent (`stripe_rejected`)."),
            502: error_response("Stripe is unreachable: retry with the same top_up_request_id."),
        },
    )
    def post(self, request):
        body = TopUpCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = top_up_create(
            account=request.account,
            user=request.user,
            amount=data["amount"],
            currency=data["currency"],
            request_id=data["top_up_request_id"],
        )
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        body = TopUpSerializer(outcome.top_up, context={"client_secret": outcome.client_secret}).data
        return Response(body, status=code)


class UsageView(GenericAPIView):
    serializer_class = UsageResultSerializer

    @extend_schema(
        summary="Debit usage, once per usage_key",
        tags=TAGS,
        request=UsageCreateSerializer,
        responses={
            201: UsageResultSerializer,
            200: UsageResultSerializer,
            402: error_response("The balance cannot cover it (`insufficient_balance`); nothing was written."),
            403: NOT_SUB,
            409: error_response("The usage_key was applied with another amount (`usage_key_reused`)."),
        },
    )
    def post(self, request):
        body = UsageCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = usage_debit(
            account=request.account, amount=data["amount"], usage_key=data["usage_key"], description=data["description"]
        )
        result = {
            "applied": outcome.applied,
            "balance": outcome.balance,
            "currency": outcome.entry.balance.currency,
            "entry": LedgerEntrySerializer(outcome.entry).data,
        }
        return Response(result, status=status.HTTP_201_CREATED if outcome.applied else status.HTTP_200_OK)


class AgencyBalancesView(ListAPIView):
    serializer_class = SubAccountBalanceSerializer

    @extend_schema(
        summary="An agency's sub-accounts and their balances (403 `not_an_agency` for anyone else)", tags=TAGS
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return Account.objects.none()
        return agency_balances(agency=require_agency(self.request.account))
