"""The account's Stripe connection and its sync (SPEC §2, §11): thin views over services/connection.py."""

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from billing.selectors.connection import connection_status, sync_run_latest, sync_run_progress
from billing.services.connection import connection_connect, connection_disconnect, connection_resync
from core.api.schema import error_response
from core.errors import InvalidInput, NotFound

# What a Stripe credential may hold: Stripe's keys and ids are letters, digits and underscores (a signing secret
# base64 too), with blanks around a pasted value forgiven. The prefixes (sk_/rk_, acct_, whsec_) are checked by
# services/connection.py with a message naming the mistake; CONNECT_REQUEST says both in one pattern per field.
_BLANK = "[ \t\r\n]*"
_CHARSET = {
    "secret_key": re.compile(f"{_BLANK}[A-Za-z0-9_]+{_BLANK}"),
    "access_token": re.compile(f"{_BLANK}[A-Za-z0-9_]+{_BLANK}"),
    "stripe_user_id": re.compile(f"{_BLANK}[A-Za-z0-9_]+{_BLANK}"),
    "webhook_secret": re.compile(f"{_BLANK}[A-Za-z0-9+/=_]*{_BLANK}"),
}
_KEY_PATTERN = f"^{_BLANK}(sk|rk)_(test|live)_[A-Za-z0-9_]*{_BLANK}$"
_WEBHOOK_SECRET = {
    "type": "string",
    "pattern": f"^{_BLANK}(whsec_[A-Za-z0-9+/=_]*)?{_BLANK}$",
    "description": "The signing secret (`whsec_...`) of the account's Stripe webhook endpoint; blank keeps none.",
}
CONNECT_REQUEST = {
    "oneOf": [
        {
            "title": "Secret key",
            "type": "object",
            "properties": {
                "secret_key": {"type": "string", "pattern": _KEY_PATTERN, "description": "`sk_...` or `rk_...`."},
                "webhook_secret": _WEBHOOK_SECRET,
            },
            "required": ["secret_key"],
            "additionalProperties": False,
        },
        {
            "title": "Stripe Connect OAuth",
            "type": "object",
            "properties": {
                "access_token": {"type": "string", "pattern": _KEY_PATTERN},
                "stripe_user_id": {"type": "string", "pattern": f"^{_BLANK}acct_[A-Za-z0-9_]*{_BLANK}$"},
                "webhook_secret": _WEBHOOK_SECRET,
            },
            "required": ["access_token", "stripe_user_id"],
            "additionalProperties": False,
        },
    ]
}


class ConnectInputSerializer(serializers.Serializer):
    """Either `secret_key`, or `access_token` + `stripe_user_id` (Stripe Connect OAuth); nothing else."""

    secret_key = serializers.CharField(required=False, write_only=True, trim_whitespace=False)
    access_token = serializers.CharField(required=False, write_only=True, trim_whitespace=False)
    stripe_user_id = serializers.CharField(required=False, write_only=True, trim_whitespace=False)
    webhook_secret = serializers.CharField(required=False, write_only=True, trim_whitespace=False, allow_blank=True)

    def validate(self, attrs):
        # A field the schema does not know is refused rather than ignored: a misspelt `webhook_secret` would
        # otherwise connect without one, silently.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        for name, value in attrs.items():
            if not _CHARSET[name].fullmatch(value):
                # The same codes the service gives for a wrong prefix: the SPA shows one message per field.
                code = "webhook_secret_invalid" if name == "webhook_secret" else "stripe_key_invalid"
                raise InvalidInput(
                    f"{name}: not as Stripe writes it (letters, digits and underscores after sk_, rk_, acct_ "
                    "or whsec_).",
                    code=code,
                )
        return {name: value.strip(" \t\r\n") for name, value in attrs.items()}


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
        request={"application/json": CONNECT_REQUEST},
        responses={
            201: ConnectionSerializer,
            200: ConnectionSerializer,
            400: error_response(
                "Malformed credentials (`validation_error`, `stripe_key_invalid`, `stripe_credentials_ambiguous`, "
                "`stripe_credentials_missing`, `webhook_secret_invalid`), or Stripe refused them "
                "(`stripe_credentials_refused`); nothing stored."
            ),
            403: error_response("Not an owner or admin of the account."),
            502: error_response("Stripe unreachable or failing (`stripe_unavailable`); nothing stored."),
        },
        description="Checks the credentials against Stripe, stores them encrypted, and starts the initial sync.",
    )
    def post(self, request):
        payload = ConnectInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _, created = connection_connect(account=request.account, user=request.user, **payload.validated_data)
        body = ConnectionSerializer(connection_status(account=request.account)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        responses={204: None, 403: error_response("Not an owner or admin of the account.")},
        description="Disconnects: secrets wiped, mirrored data kept.",
    )
    def delete(self, request):
        connection_disconnect(account=request.account, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncView(APIView):
    def get_permissions(self):
        return [IsAccountMember()] if self.request.method == "GET" else [IsAccountAdmin()]

    @extend_schema(responses={200: SyncRunSerializer, 404: error_response("No sync run yet (`not_found`).")})
    def get(self, request):
        run = sync_run_latest(account=request.account)
        if run is None:
            raise NotFound("This account has never been synced.")
        return Response(SyncRunSerializer(run).data)

    @extend_schema(
        request=None,
        responses={
            202: SyncRunSerializer,
            403: error_response("Not an owner or admin of the account."),
            409: error_response("`sync_already_running`, or `stripe_not_connected`."),
        },
        description="Re-syncs every resource from the account's Stripe; progress arrives on the websocket.",
    )
    def post(self, request):
        run = connection_resync(account=request.account, user=request.user)
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
