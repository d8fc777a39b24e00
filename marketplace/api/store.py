"""The agency's store (SPEC §5): products and prices, listed for the agency (all of its own) and for its
sub-accounts (what they may buy); written by the agency's owners and admins only, to its Stripe first."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from core.api.schema import error_response
from marketplace.api.request_ids import client_request_id
from marketplace.api.serializers import (
    StorePriceCreateSerializer,
    StorePriceSerializer,
    StorePriceUpdateSerializer,
    StoreProductCreateSerializer,
    StoreProductSerializer,
    StoreProductUpdateSerializer,
)
from marketplace.roles import require_agency
from marketplace.selectors.store import (
    store_price_get,
    store_prices,
    store_product_for_new_price,
    store_product_get,
    store_products,
)
from marketplace.services.store import (
    store_price_create,
    store_price_update,
    store_product_create,
    store_product_update,
)

TAGS = ["marketplace: store"]
SELLER_ERRORS = {
    403: error_response("Not an agency (`not_an_agency`: a sub-account, or no connected Stripe), or not an admin."),
    409: error_response("The agency's Stripe connection cannot be used (`stripe_auth_failed`)."),
    422: error_response("Stripe refused the request (`stripe_rejected`)."),
    502: error_response("Stripe is unreachable or failing (`stripe_unavailable`); nothing was written."),
}


class _WritesByAdmins:
    def _schema_queryset(self):
        return self.serializer_class.Meta.model.objects.none()

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsAccountMember()]
        return [IsAccountAdmin()]


class StoreProductListView(_WritesByAdmins, ListAPIView):
    serializer_class = StoreProductSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return self._schema_queryset()
        return store_products(account=self.request.account)

    @extend_schema(summary="The store's products (an agency: all its own; a sub-account: what it may buy)", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        summary="Create an add-on product in the agency's Stripe",
        tags=TAGS,
        request=StoreProductCreateSerializer,
        responses={201: StoreProductSerializer, **SELLER_ERRORS},
    )
    def post(self, request):
        agency = require_agency(request.account)
        body = StoreProductCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        product = store_product_create(
            agency=agency,
            name=body.validated_data["name"],
            description=body.validated_data.get("description", ""),
            request_id=client_request_id(request, body.validated_data.get("request_id")),
        )
        return Response(StoreProductSerializer(product).data, status=status.HTTP_201_CREATED)


class StoreProductDetailView(_WritesByAdmins, GenericAPIView):
    serializer_class = StoreProductSerializer

    @extend_schema(summary="One of the agency's products (404 for anyone else)", tags=TAGS)
    def get(self, request, product_id):
        return Response(StoreProductSerializer(store_product_get(agency=request.account, stripe_id=product_id)).data)

    @extend_schema(
        summary="Update a product (name, description, active)",
        tags=TAGS,
        request=StoreProductUpdateSerializer,
        responses={200: StoreProductSerializer, **SELLER_ERRORS},
    )
    def patch(self, request, product_id):
        product = store_product_get(agency=request.account, stripe_id=product_id)
        body = StoreProductUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        product = store_product_update(agency=request.account, product=product, fields=body.validated_data)
        return Response(StoreProductSerializer(product).data)


class StorePriceListView(_WritesByAdmins, ListAPIView):
    serializer_class = StorePriceSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return self._schema_queryset()
        return store_prices(account=self.request.account)

    @extend_schema(summary="The store's prices (an agency: all its own; a sub-account: what it may buy)", tags=TAGS)
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        summary="Create a price (one-off or recurring, optional setup fee) in the agency's Stripe",
        tags=TAGS,
        request=StorePriceCreateSerializer,
        responses={201: StorePriceSerializer, 404: error_response("No such product in this store."), **SELLER_ERRORS},
    )
    def post(self, request):
        body = StorePriceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        product = store_product_for_new_price(agency=request.account, stripe_id=data["product"])
        recurring = data.get("recurring") or {}
        price = store_price_create(
            agency=request.account,
            product=product,
            currency=data["currency"],
            unit_amount=data["unit_amount"],
            interval=recurring.get("interval", ""),
            interval_count=recurring.get("interval_count", 1),
            nickname=data.get("nickname", ""),
            setup_fee_amount=data.get("setup_fee"),
            request_id=client_request_id(request, data.get("request_id")),
        )
        return Response(StorePriceSerializer(price).data, status=status.HTTP_201_CREATED)


class StorePriceDetailView(_WritesByAdmins, GenericAPIView):
    serializer_class = StorePriceSerializer

    @extend_schema(summary="One of the agency's prices (404 for anyone else)", tags=TAGS)
    def get(self, request, price_id):
        return Response(StorePriceSerializer(store_price_get(agency=request.account, stripe_id=price_id)).data)

    @extend_schema(
        summary="Update a price (active, nickname; an amount is immutable: create a new price)",
        tags=TAGS,
        request=StorePriceUpdateSerializer,
        responses={200: StorePriceSerializer, **SELLER_ERRORS},
    )
    def patch(self, request, price_id):
        price = store_price_get(agency=request.account, stripe_id=price_id)
        body = StorePriceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        price = store_price_update(agency=request.account, price=price, fields=body.validated_data)
        return Response(StorePriceSerializer(price).data)
