"""Purchases (SPEC §5): a sub-account buys an add-on; it and its agency read them (`?sub_account=` for the
agency; another account's is a 404)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from core.api.schema import error_response
from marketplace.api.serializers import PurchaseCreateSerializer, PurchaseSerializer
from marketplace.models import Purchase
from marketplace.selectors.purchases import purchase_get, purchase_list
from marketplace.services.purchases import purchase_create

TAGS = ["marketplace: purchases"]
SUB_ACCOUNT = OpenApiParameter(
    "sub_account", str, description="An agency: only this sub-account's purchases (404 if it is not yours)."
)


class PurchaseListView(ListAPIView):
    serializer_class = PurchaseSerializer

    def get_permissions(self):
        return [IsAccountMember()] if self.request.method in ("GET", "HEAD", "OPTIONS") else [IsAccountAdmin()]

    @extend_schema(summary="Purchases: a sub-account's own, or an agency's sales", tags=TAGS, parameters=[SUB_ACCOUNT])
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return Purchase.objects.none()
        return purchase_list(account=self.request.account, sub_account_id=self.request.query_params.get("sub_account"))

    @extend_schema(
        summary="Buy an add-on (charged on the agency's Stripe; fulfilled when Stripe confirms payment)",
        tags=TAGS,
        request=PurchaseCreateSerializer,
        responses={
            201: PurchaseSerializer,
            200: PurchaseSerializer,
            402: error_response(
                "The card was declined (`card_declined`): the purchase is kept `failed` with Stripe's reason."
            ),
            403: error_response("Not a sub-account of an agency (`not_a_sub_account`), or not an admin."),
            404: error_response("No such price for sale in the agency's store."),
            409: error_response(
                "No saved card (`no_payment_method`); the id is still being processed (`request_in_progress`) or was "
                "used for another purchase (`purchase_request_id_reused`)."
            ),
            422: error_response("Stripe refused the request (`stripe_rejected`)."),
            502: error_response(
                "Stripe is unreachable (`stripe_unavailable`): retry with the same purchase_request_id."
            ),
        },
    )
    def post(self, request):
        body = PurchaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = purchase_create(
            buyer=request.account,
            user=request.user,
            price_id=data["price_id"],
            quantity=data["quantity"],
            request_id=data["purchase_request_id"],
        )
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(PurchaseSerializer(outcome.purchase).data, status=code)


class PurchaseDetailView(GenericAPIView):
    serializer_class = PurchaseSerializer

    @extend_schema(summary="One purchase (the buyer's or its agency's)", tags=TAGS)
    def get(self, request, purchase_id):
        return Response(PurchaseSerializer(purchase_get(account=request.account, purchase_id=purchase_id)).data)
