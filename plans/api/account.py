"""The account's subscription with us (SPEC §7, §11): any member reads, owners and admins write. Thin views over
plans/services/account_plan.py; the outcome of a change comes back through the platform's webhooks."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from core.api.schema import error_response
from plans.api.serializers import (
    AccountSubscriptionSerializer,
    ChangeInputSerializer,
    CheckoutInputSerializer,
    CheckoutOutputSerializer,
    PlatformInvoiceListSerializer,
    PlatformInvoiceSerializer,
)
from plans.selectors.invoices import account_invoice_list
from plans.services.account_plan import (
    subscription_cancel_at_period_end,
    subscription_change,
    subscription_checkout_create,
)
from plans.services.defaults import account_subscription_ensure

STRIPE_ERRORS = {
    409: error_response("No paid subscription to change, or one already (use change)."),
    422: error_response("The platform's Stripe refused the request."),
    502: error_response("The platform's Stripe is unreachable or failing."),
}


def _current(request) -> Response:
    subscription = account_subscription_ensure(account=request.account)
    return Response(AccountSubscriptionSerializer(subscription).data)


class SubscriptionView(APIView):
    permission_classes = [IsAccountMember]

    @extend_schema(responses=AccountSubscriptionSerializer, summary="The account's plan and subscription status")
    def get(self, request):
        return _current(request)


class CheckoutView(APIView):
    permission_classes = [IsAccountAdmin]

    @extend_schema(
        request=CheckoutInputSerializer,
        responses={201: CheckoutOutputSerializer, 400: error_response("Unknown plan or interval."), **STRIPE_ERRORS},
        summary="A Stripe Checkout session (subscription mode) for a plan",
    )
    def post(self, request):
        body = CheckoutInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = subscription_checkout_create(
            account=request.account, plan_slug=body.validated_data["plan"], interval=body.validated_data["interval"]
        )
        return Response(session, status=status.HTTP_201_CREATED)


class ChangeView(APIView):
    permission_classes = [IsAccountAdmin]

    @extend_schema(
        request=ChangeInputSerializer,
        responses={202: AccountSubscriptionSerializer, 400: error_response("Unknown plan."), **STRIPE_ERRORS},
        summary="Move the subscription to another plan (prorated by Stripe); lands when Stripe's webhook does",
    )
    def post(self, request):
        body = ChangeInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subscription_change(
            account=request.account, plan_slug=body.validated_data["plan"], interval=body.validated_data["interval"]
        )
        response = _current(request)
        response.status_code = status.HTTP_202_ACCEPTED
        return response


class CancelView(APIView):
    permission_classes = [IsAccountAdmin]
    cancel = True

    @extend_schema(
        request=None,
        responses={202: AccountSubscriptionSerializer, **STRIPE_ERRORS},
        summary="Cancel at the end of the paid period (resume: undo it)",
    )
    def post(self, request):
        subscription_cancel_at_period_end(account=request.account, cancel=self.cancel)
        response = _current(request)
        response.status_code = status.HTTP_202_ACCEPTED
        return response


class ResumeView(CancelView):
    cancel = False


class InvoicesView(APIView):
    permission_classes = [IsAccountMember]

    @extend_schema(
        responses={200: PlatformInvoiceListSerializer, 502: STRIPE_ERRORS[502]},
        summary="The account's bills from us, newest first, with Stripe's hosted pages",
    )
    def get(self, request):
        subscription = account_subscription_ensure(account=request.account)
        invoices = account_invoice_list(subscription=subscription)
        return Response({"results": PlatformInvoiceSerializer(invoices, many=True).data, "next": None})
