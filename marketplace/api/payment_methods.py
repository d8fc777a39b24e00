"""A sub-account's saved cards in its agency's Stripe (the sub-account is the agency's customer, created on first
need): a SetupIntent to save one with Stripe.js, the list, and the default."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin
from core.api.schema import error_response
from marketplace.api.serializers import DefaultCardSerializer, SetupIntentSerializer, StoreCardListSerializer
from marketplace.roles import require_sub_account
from marketplace.services.customers import payment_method_set_default, payment_method_setup, payment_methods_list

TAGS = ["marketplace: payment methods"]
ERRORS = {
    403: error_response("Not a sub-account of an agency with a connected Stripe (`not_a_sub_account`)."),
    409: error_response("The agency's Stripe refused its stored credentials (`stripe_auth_failed`)."),
    422: error_response("The agency's Stripe refused the request (`stripe_rejected`)."),
    502: error_response("The agency's Stripe is unreachable or failing (`stripe_unavailable`)."),
}


class SetupIntentView(APIView):
    permission_classes = [IsAccountAdmin]

    @extend_schema(
        summary="Start saving a card: a SetupIntent's client secret",
        tags=TAGS,
        request=None,
        responses={201: SetupIntentSerializer, **ERRORS},
    )
    def post(self, request):
        agency = require_sub_account(request.account)
        intent = payment_method_setup(sub_account=request.account, agency=agency)
        return Response(SetupIntentSerializer(intent).data, status=status.HTTP_201_CREATED)


class PaymentMethodListView(APIView):
    @extend_schema(
        summary="The sub-account's saved cards (newest first; one is the default)",
        tags=TAGS,
        responses={200: StoreCardListSerializer, **ERRORS},
    )
    def get(self, request):
        agency = require_sub_account(request.account)
        return Response({"results": payment_methods_list(sub_account=request.account, agency=agency)})


class DefaultPaymentMethodView(APIView):
    permission_classes = [IsAccountAdmin]

    @extend_schema(
        summary="Choose the default card (the one purchases are charged to)",
        tags=TAGS,
        request=DefaultCardSerializer,
        responses={200: StoreCardListSerializer, 404: error_response("No such saved card."), **ERRORS},
    )
    def post(self, request):
        agency = require_sub_account(request.account)
        body = DefaultCardSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cards = payment_method_set_default(
            sub_account=request.account, agency=agency, payment_method_id=body.validated_data["payment_method_id"]
        )
        return Response({"results": cards})
