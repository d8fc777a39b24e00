"""Staff manage plans (SPEC §9, §11): `/api/v1/admin/billing/plans/`, staff with `billing.billing_admin_ops`."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import STAFF_AUTHENTICATION, IsBillingStaff
from core.api.schema import error_response
from core.errors import NotFound
from plans.api.serializers import (
    PlanCreateSerializer,
    PlanListSerializer,
    PlanSerializer,
    PlanVersionSerializer,
    VersionCreateSerializer,
)
from plans.selectors.subscriptions import plan_get, plan_list
from plans.services.catalog import plan_create, plan_version_create


class PlansView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(responses=PlanListSerializer, summary="Every plan with its versions")
    def get(self, request):
        return Response({"results": PlanSerializer(plan_list(), many=True).data, "next": None})

    @extend_schema(
        request=PlanCreateSerializer,
        responses={
            201: PlanSerializer,
            409: error_response("A plan with this slug exists."),
            422: error_response("The platform's Stripe refused the product or a price."),
            502: error_response("The platform's Stripe is unreachable or failing."),
        },
        summary="Create a plan, its version 1, and its product and prices in the platform's Stripe",
    )
    def post(self, request):
        body = PlanCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = plan_create(**body.validated_data)
        return Response(PlanSerializer(plan_list().get(pk=version.plan_id)).data, status=status.HTTP_201_CREATED)


class PlanVersionsView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        request=VersionCreateSerializer,
        responses={201: PlanVersionSerializer, 404: error_response("No such plan."), 409: error_response("Raced.")},
        summary="Bump: the plan's next version (what is not given is copied); the previous one is deactivated",
    )
    def post(self, request, slug: str):
        plan = plan_get(slug=slug)
        if plan is None:
            raise NotFound(f"No plan {slug!r}.")
        body = VersionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = plan_version_create(plan=plan, **body.validated_data)
        return Response(PlanVersionSerializer(version).data, status=status.HTTP_201_CREATED)
