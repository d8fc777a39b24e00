"""The extras: `GET /api/v1/metering/extras/` (balance and ledger, newest first) and
`POST /api/v1/metering/extras/checkout/` (a credit pack → a Stripe Checkout URL; owners and admins)."""

import re

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin
from core.api.schema import FORBIDDEN, INVALID, UNAUTHENTICATED, error_response
from core.api.serializers import StrictSerializer
from metering.selectors.extras import extras_ledger_page
from metering.services.checkout import extras_checkout_create

_WHOLE = re.compile(r"[0-9]{1,9}")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


def _whole(request, name: str, default: int, low: int, high: int, problems: dict) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        problems[name] = [f"A whole number from {low} to {high}."]
        return default
    return int(raw)


ENTRY_FIELDS = {
    "id": serializers.IntegerField(),
    "kind": serializers.ChoiceField(choices=["topup", "adjustment", "debit", "refund", "expiration"]),
    "amount": serializers.IntegerField(help_text="Units: positive for topup, negative for debit/refund/expiration."),
    "ref": serializers.CharField(help_text="The entry's idempotency key (an attribution key, a session id, rf_…)."),
    "reason": serializers.CharField(),
    "week_key": serializers.CharField(help_text="A debit's week, else ''."),
    "created_at": serializers.DateTimeField(),
}


class LedgerQuerySerializer(serializers.Serializer):
    """The query parameters, for the schema (validated by `_whole`, which names each bad one)."""

    page = serializers.IntegerField(required=False, min_value=1, max_value=999_999_999, help_text="From 1 (default 1).")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_LIMIT, help_text=f"1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
    )


class ExtrasView(APIView):
    @extend_schema(
        summary="The extras balance and its ledger, newest first",
        tags=["metering"],
        parameters=[LedgerQuerySerializer],
        responses={
            200: inline_serializer(
                "Extras",
                {
                    "balance": serializers.IntegerField(help_text="Units; negative when overflow exceeded the packs."),
                    "total": serializers.IntegerField(help_text="Entries in the ledger."),
                    "entries": inline_serializer("ExtrasLedgerEntry", ENTRY_FIELDS, many=True),
                    "topups": inline_serializer(
                        "ExtrasActiveTopup",
                        many=True,
                        fields={
                            "pack_id": serializers.CharField(),
                            "units": serializers.IntegerField(),
                            "remaining_units": serializers.IntegerField(),
                            "expires_at": serializers.DateTimeField(),
                        },
                    ),
                },
            ),
            400: error_response(INVALID),
            401: error_response(UNAUTHENTICATED),
            403: error_response(FORBIDDEN),
        },
    )
    def get(self, request):
        problems: dict = {}
        page = _whole(request, "page", 1, 1, 999_999_999, problems)
        limit = _whole(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, problems)
        if problems:
            raise serializers.ValidationError(problems)
        return Response(extras_ledger_page(account=request.account, page=page, limit=limit))


class ExtrasCheckoutSerializer(StrictSerializer):
    pack_id = serializers.CharField(max_length=64, help_text="A credit pack of METERING_CREDIT_PACKS.")


class ExtrasCheckoutView(APIView):
    permission_classes = [IsAccountAdmin]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Buy a credit pack: a Stripe Checkout URL (owners and admins)",
        tags=["metering"],
        request=ExtrasCheckoutSerializer,
        responses={
            201: inline_serializer(
                "ExtrasCheckout",
                {
                    "checkout_url": serializers.URLField(),
                    "session_id": serializers.CharField(),
                    "pack_id": serializers.CharField(),
                },
            ),
            400: error_response(INVALID + " An unknown pack is `unknown_pack`."),
            401: error_response(UNAUTHENTICATED),
            403: error_response(FORBIDDEN),
            502: error_response("The platform's Stripe is unreachable (`stripe_unavailable`): nothing was bought."),
        },
    )
    def post(self, request):
        body = ExtrasCheckoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            extras_checkout_create(account=request.account, pack_id=body.validated_data["pack_id"]), status=201
        )
