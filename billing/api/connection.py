"""The account's Stripe connection and its sync (SPEC §2, §11): thin views over services/connection.py."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from billing.selectors.connection import connection_status, sync_run_latest, sync_run_progress
from billing.services.connection import connection_connect, connection_disconnect, connection_resync
from core.errors import NotFound


class ConnectInputSerializer(serializers.Serializer):
    """Either `secret_key`, or `access_token` + `stripe_user_id` (Stripe Connect OAuth)."""

    secret_key = serializers.CharField(required=False, write_only=True, trim_whitespace=True)
    access_token = serializers.CharField(required=False, write_only=True, trim_whitespace=True)
    stripe_user_id = serializers.CharField(required=False, write_only=True, trim_whitespace=True)
    webhook_secret = serializers.CharField(required=False, write_only=True, trim_whitespace=True, allow_blank=True)


class ResourceProgressSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending", "running", "done", "failed"])
    synced = serializers.IntegerField()
    pages = serializers.IntegerField()
    error = serializers.CharField()


class ConnectionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["syncing", "ready", "failed", "disconnected"])
    status_reason = serializers.CharField()
    initialized = serializers.BooleanField()
    last_synced_at = serializers.DateTimeField(allow_null=True)
    auth_mode = serializers.ChoiceField(choices=["secret_key", "connect"], allow_null=True)
    stripe_account_id = serializers.CharField()
    livemode = serializers.BooleanField()
    webhook_url = serializers.CharField(help_text="Point the account's Stripe webhook endpoint here.")
    has_webhook_secret = serializers.BooleanField()
    progress = serializers.DictField(child=ResourceProgressSerializer(), help_text="Per resource, latest sync run.")


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "completed", "failed"])
    reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.DictField(child=ResourceProgressSerializer())

    def to_representation(self, run):
        data = {
            "id": run.pk,
            "kind": run.kind,
            "status": run.status,
            "reason": run.reason,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "progress": sync_run_progress(run=run),
        }
        return super().to_representation(data)


class StripeConnectionView(APIView):
    """GET for any member; connecting and disconnecting are for owners and admins."""

    def get_permissions(self):
        return [IsAccountMember()] if self.request.method == "GET" else [IsAccountAdmin()]

    @extend_schema(responses={200: ConnectionSerializer})
    def get(self, request):
        return Response(ConnectionSerializer(connection_status(account=request.account)).data)

    @extend_schema(
        request=ConnectInputSerializer,
        responses={
            201: ConnectionSerializer,
            200: ConnectionSerializer,
            400: OpenApiResponse(description="Malformed credentials, or Stripe refused them; nothing stored."),
            403: OpenApiResponse(description="Not an owner or admin of the account."),
            502: OpenApiResponse(description="Stripe unreachable or failing; nothing stored."),
        },
        description="Checks the credentials against Stripe, stores them encrypted, and starts the initial sync.",
    )
    def post(self, request):
        payload = ConnectInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _, created = connection_connect(account=request.account, user=request.user, **payload.validated_data)
        body = ConnectionSerializer(connection_status(account=request.account)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={204: None}, description="Disconnects: secrets wiped, mirrored data kept.")
    def delete(self, request):
        connection_disconnect(account=request.account, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncView(APIView):
    def get_permissions(self):
        return [IsAccountMember()] if self.request.method == "GET" else [IsAccountAdmin()]

    @extend_schema(responses={200: SyncRunSerializer, 404: OpenApiResponse(description="No sync run yet.")})
    def get(self, request):
        run = sync_run_latest(account=request.account)
        if run is None:
            raise NotFound("This account has never been synced.")
        return Response(SyncRunSerializer(run).data)

    @extend_schema(
        request=None,
        responses={
            202: SyncRunSerializer,
            409: OpenApiResponse(description="`sync_already_running`, or `stripe_not_connected`."),
        },
        description="Re-syncs every resource from the account's Stripe; progress arrives on the websocket.",
    )
    def post(self, request):
        run = connection_resync(account=request.account, user=request.user)
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
