"""JWT obtain/refresh, logout, password change and websocket tickets. The access token carries `account_id`: the
one account every request is scoped to. Obtaining, refreshing and changing a password are throttled per username
(or user) and per IP (accounts/throttles.py)."""

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenObtainSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.selectors import membership_for_token, password_digest
from accounts.services import user_password_change, ws_ticket_issue
from accounts.throttles import PerIPThrottle, PerRefreshUserThrottle, PerUsernameThrottle, PerUserThrottle
from core.api.schema import INVALID, error_response

THROTTLED = error_response("`throttled`: too many attempts for this username or IP; see Retry-After.")
BAD_TOKEN = error_response("`token_not_valid`: the refresh token is malformed, expired or revoked.")
NOT_A_MEMBER = error_response(
    "The user is not a member of the account asked for (`not_a_member`), or of any account (`no_account`)."
)


def tokens_for(membership) -> dict:
    """A new refresh/access pair for the membership's user, scoped to its account."""
    refresh = RefreshToken.for_user(membership.user)
    refresh["account_id"] = str(membership.account_id)
    refresh["role"] = membership.role
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


class AccountTokenObtainSerializer(TokenObtainPairSerializer):
    account_id = serializers.UUIDField(required=False, help_text="Account to act for; default: your first one.")

    def validate(self, attrs):
        # Only the credentials check of SimpleJWT's serializer (wrong username/password → 401): the pair is issued
        # once, for the membership.
        TokenObtainSerializer.validate(self, attrs)
        membership = membership_for_token(user_id=self.user.pk, account_id=attrs.get("account_id"))
        return tokens_for(membership)


class AccountTokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])  # signature, expiry, blacklist: TokenError → 401
        # A membership removed since the token was issued ends the session at the next refresh.
        membership = membership_for_token(user_id=refresh.get("user_id"), account_id=refresh.get("account_id"))
        if refresh.get(jwt_settings.REVOKE_TOKEN_CLAIM) != password_digest(membership.user):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        with transaction.atomic():
            # Rotation: the token is good once. Blacklisting is the claim on it: of two refreshes racing with the
            # same token, the one that did not create the blacklist row is refused.
            _, created = refresh.blacklist()
            if not created:
                raise TokenError("Token is blacklisted")
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh["role"] = membership.role
            refresh.outstand()
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


@extend_schema(
    responses={
        200: TokenResponseSerializer,
        400: error_response(INVALID),
        401: error_response("Wrong username or password, or an inactive user (`no_active_account`)."),
        403: NOT_A_MEMBER,
        429: THROTTLED,
    },
    auth=[],
)
class TokenObtainView(TokenObtainPairView):
    serializer_class = AccountTokenObtainSerializer
    permission_classes = [AllowAny]
    throttle_classes = [PerIPThrottle, PerUsernameThrottle]


@extend_schema(
    request=RefreshRequestSerializer,
    responses={
        200: TokenResponseSerializer,
        400: error_response(INVALID),
        401: BAD_TOKEN,
        403: error_response("`not_a_member`: the membership is gone or the account deactivated."),
        429: THROTTLED,
    },
    auth=[],
    description="A new access token and a new refresh token; the refresh token sent is revoked (rotation).",
)
class TokenRefresh(TokenRefreshView):
    serializer_class = AccountTokenRefreshSerializer
    permission_classes = [AllowAny]

    def get_throttles(self):
        # Counters of their own, apart from the token view's.
        return [PerIPThrottle("auth_refresh_ip"), PerRefreshUserThrottle()]


class LogoutView(APIView):
    """Revokes a refresh token. Needs only the token itself (an expired access token must not keep a user from
    logging out). Access tokens already issued live out their lifetime (JWT_ACCESS_MINUTES)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        # With no authenticator DRF would turn the 401 of a bad refresh token into a 403.
        return 'Bearer realm="api"'

    @extend_schema(
        request=RefreshRequestSerializer,
        responses={
            204: OpenApiResponse(description="Revoked."),
            400: error_response("`validation_error`: no refresh token."),
            401: BAD_TOKEN,
        },
        auth=[],
    )
    def post(self, request):
        serializer = RefreshRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    new_password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class PasswordChangeView(APIView):
    """Changes the caller's password and ends every other session of theirs (refresh tokens revoked, access
    tokens and websockets refused from now on); answers a new pair for this one."""

    def get_throttles(self):
        return [PerUserThrottle("auth_password_user"), PerIPThrottle("auth_password_ip")]

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={
            200: TokenResponseSerializer,
            400: error_response("`wrong_password`, `weak_password` or `validation_error`."),
            429: THROTTLED,
        },
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_change(user=request.user, **serializer.validated_data)
        request.membership.user = request.user  # the pair below must carry the new password's digest
        return Response(tokens_for(request.membership))


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Open `ws/notifications/?ticket=<ticket>` with it: once, soon.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays usable (WS_TICKET_SECONDS).")


class WsTicketView(APIView):
    """A short-lived, single-use websocket ticket standing for the caller's access token, so that token need not
    sit in a URL (server logs, browser history). The socket it opens lasts until that access token expires."""

    @extend_schema(request=None, responses={200: WsTicketSerializer})
    def post(self, request):
        token = request.auth
        ticket = ws_ticket_issue(
            user_id=request.user.pk,
            account_id=request.account.pk,
            password_claim=token.get(jwt_settings.REVOKE_TOKEN_CLAIM),
            expires_at=token["exp"],
        )
        return Response({"ticket": ticket, "expires_in": settings.WS_TICKET_SECONDS})
