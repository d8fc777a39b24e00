"""Stripe webhook endpoints (SPEC §3): no JWT (Stripe signs instead), no CSRF, and thin: verification and the
insert live in billing/webhooks/intake.py; processing happens in a worker after we answer.

Under ASGI (daphne) these URLs are answered by billing/api/webhook_asgi.py, which batches concurrent deliveries
through the same service; these views serve them through Django (the test client, WSGI) and carry the schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.webhooks.intake import Receipt, webhook_receive_account, webhook_receive_platform
from core.logcontext import bind_account

SIGNATURE = OpenApiParameter(
    "Stripe-Signature",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='`t=<unix seconds>,v1=<HMAC-SHA256 of "t.body" with the endpoint\'s signing secret>`; '
    "older than 300 s is refused.",
)
ACK = inline_serializer(
    "WebhookAck",
    {
        "received": serializers.BooleanField(),
        "event_id": serializers.CharField(),
        "duplicate": serializers.BooleanField(help_text="Already stored by an earlier delivery: nothing done."),
    },
)
REFUSED = OpenApiResponse(
    description="Bad or missing signature, stale timestamp, body that is not a Stripe event or that cannot be "
    "stored (`webhook_body_invalid`, `details.reason` says why), unknown account or account without a signing "
    "secret, or any other failure of this delivery alone (`webhook_event_refused`). Nothing is stored; other "
    'deliveries are not affected. `{"error": {"code", "message", "details"}}`.'
)

TOO_LARGE = OpenApiResponse(description="Body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB). Nothing is stored.")
NOT_STORED = OpenApiResponse(
    description="The event could not be stored (the database is unavailable: `webhook_store_failed`), or "
    "intake is at capacity (`webhook_intake_busy`): Stripe delivers it again. "
    '`{"error": {"code", "message", "details"}}`.'
)
RESPONSES = {200: ACK, 400: REFUSED, 413: TOO_LARGE, 503: NOT_STORED}


class _WebhookView(APIView):
    authentication_classes: list = []  # Stripe's signature is the authentication
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    @staticmethod
    def acknowledge(receipt: Receipt) -> Response:
        return Response(receipt.reply())


class AccountWebhookView(_WebhookView):
    @extend_schema(
        operation_id="stripe_webhook_account",
        summary="Stripe webhook of an account's own Stripe",
        description="Verified with the signing secret of the account's Stripe connection; stored once and "
        "processed by a worker after the answer.",
        tags=["webhooks"],
        auth=[],
        parameters=[SIGNATURE],
        request={"application/json": OpenApiTypes.OBJECT},
        responses=RESPONSES,
    )
    def post(self, request, account_id):
        bind_account(account_id)
        receipt = webhook_receive_account(
            account_id=account_id, payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        return self.acknowledge(receipt)


class PlatformWebhookView(_WebhookView):
    @extend_schema(
        operation_id="stripe_webhook_platform",
        summary="Stripe webhook of the platform's Stripe",
        description="Verified with STRIPE_WEBHOOK_SECRET. An event carrying `account` (Connect) is routed to "
        "the account connected to that Stripe account and processed as that account's event.",
        tags=["webhooks"],
        auth=[],
        parameters=[SIGNATURE],
        request={"application/json": OpenApiTypes.OBJECT},
        responses=RESPONSES,
    )
    def post(self, request):
        receipt = webhook_receive_platform(payload=request.body, signature=request.headers.get("Stripe-Signature"))
        return self.acknowledge(receipt)
