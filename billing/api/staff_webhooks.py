"""The staff toolkit's webhook operations (SPEC §9, issue 16): `/api/v1/admin/billing/dead-letters/` and
`.../webhook/replay/`, for staff holding `billing.billing_admin_ops`. Platform events by default (the toolkit
serves our billing of accounts); `account_id` names an account's own event instead."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from accounts.tenancy import STAFF_AUTHENTICATION, IsBillingStaff
from billing.models import WebhookEvent
from billing.webhooks.operations import webhook_dead_letter_purge, webhook_event_replay
from billing.webhooks.selectors import dead_letter_list
from core.api.schema import error_response
from core.api.serializers import StrictSerializer
from core.errors import NotFound, StripeRejected

EVENT_ID = r"^evt_[A-Za-z0-9_]{1,250}$"
UNKNOWN_ACCOUNT = "No account {}: give the id of an account whose own Stripe sent the event, or none for the platform."


def _account(account_id) -> Account | None:
    if not account_id:
        return None
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound(UNKNOWN_ACCOUNT.format(account_id))
    return account


class WebhookEventSummarySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="stripe_event_id")
    account_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = WebhookEvent
        fields = (
            "event_id",
            "type",
            "relationship",
            "account_id",
            "status",
            "attempts",
            "last_error",
            "created",
            "received_at",
            "processed_at",
        )
        read_only_fields = fields


class DeadLetterQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    relationship = serializers.ChoiceField(choices=WebhookEvent.Relationship.choices, required=False)
    account_id = serializers.UUIDField(required=False)


class DeadLetterPageSerializer(serializers.Serializer):
    items = WebhookEventSummarySerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()


class DeadLettersView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        parameters=[DeadLetterQuerySerializer],
        responses={200: DeadLetterPageSerializer, 404: error_response("No such account.")},
        summary="Dead letters, newest first (both relationships unless narrowed)",
    )
    def get(self, request):
        query = DeadLetterQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, limit = query.validated_data["page"], query.validated_data["limit"]
        events = dead_letter_list(
            relationship=query.validated_data.get("relationship"),
            account=_account(query.validated_data.get("account_id")),
        )
        window = events[(page - 1) * limit : page * limit]
        return Response(
            {
                "items": WebhookEventSummarySerializer(window, many=True).data,
                "total": events.count(),
                "page": page,
                "limit": limit,
            }
        )


class DeadLetterView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter("account_id", str, description="An account's own event; omitted: the platform's.")
        ],
        responses={204: None, 404: error_response("No dead letter with this event id (a live event is never purged).")},
        summary="Purge one dead letter after investigation",
    )
    def delete(self, request, event_id: str):
        account = _account(request.query_params.get("account_id"))
        if not webhook_dead_letter_purge(stripe_event_id=event_id, account=account):
            raise NotFound(
                f"No dead letter {event_id}: only a dead letter can be purged.", code="dead_letter_not_found"
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReplaySerializer(StrictSerializer):
    event_id = serializers.RegexField(EVENT_ID, error_messages={"invalid": "A Stripe event id: evt_ and letters."})
    account_id = serializers.UUIDField(
        required=False, help_text="Replay an account's own event (from its Stripe); omitted: the platform's."
    )


class WebhookReplayView(APIView):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [IsBillingStaff]

    @extend_schema(
        request=ReplaySerializer,
        responses={
            202: WebhookEventSummarySerializer,
            404: error_response("No such account, or Stripe has no such event (or no longer keeps it: 30 days)."),
            409: error_response(
                "A worker is processing the event right now, or the account's Stripe is not connected."
            ),
            502: error_response("Stripe is unreachable or failing: nothing changed, try again."),
        },
        summary="Fetch an event again from Stripe and process it from scratch (stored if we never received it)",
    )
    def post(self, request):
        body = ReplaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = _account(body.validated_data.get("account_id"))
        try:
            event = webhook_event_replay(stripe_event_id=body.validated_data["event_id"], account=account)
        except StripeRejected as exc:
            if exc.details.get("http_status") == 404:
                raise NotFound(
                    f"Stripe has no event {body.validated_data['event_id']} (it keeps events 30 days).",
                    code="stripe_event_not_found",
                ) from None
            raise
        return Response(WebhookEventSummarySerializer(event).data, status=status.HTTP_202_ACCEPTED)
