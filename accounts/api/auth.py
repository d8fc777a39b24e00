"""JWT obtain/refresh. The access token carries `account_id`: the one account every request is scoped to."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.selectors import membership_for_token
from core.api.schema import INVALID, error_response


class AccountTokenObtainSerializer(TokenObtainPairSerializer):
    account_id = serializers.UUIDField(required=False, help_text="Account to act for; default: your first one.")

    def validate(self, attrs):
        data = super().validate(attrs)  # wrong username/password → 401
        membership = membership_for_token(user_id=self.user.pk, account_id=attrs.get("account_id"))
        refresh = self.get_token(self.user)
        refresh["account_id"] = str(membership.account_id)
        refresh["role"] = membership.role
        data["refresh"] = str(refresh)
        data["access"] = str(refresh.access_token)
        return data


class AccountTokenRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])
        # A membership removed since the token was issued ends the session at the next refresh.
        membership_for_token(user_id=refresh.get("user_id"), account_id=refresh.get("account_id"))
        return super().validate(attrs)


class TokenResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(required=False, help_text="A new refresh token, when refresh tokens rotate.")


NOT_A_MEMBER = error_response(
    "The user is not a member of the account asked for (`not_a_member`), or of any account (`no_account`)."
)


@extend_schema(
    responses={
        200: TokenResponseSerializer,
        400: error_response(INVALID),
        401: error_response("Wrong username or password, or an inactive user (`no_active_account`)."),
        403: NOT_A_MEMBER,
    },
    auth=[],
)
class TokenObtainView(TokenObtainPairView):
    serializer_class = AccountTokenObtainSerializer
    permission_classes = [AllowAny]


@extend_schema(
    responses={
        200: TokenRefreshResponseSerializer,
        400: error_response(INVALID),
        401: error_response("The refresh token is malformed, expired or revoked (`token_not_valid`)."),
        403: NOT_A_MEMBER,
    },
    auth=[],
)
class TokenRefresh(TokenRefreshView):
    serializer_class = AccountTokenRefreshSerializer
    permission_classes = [AllowAny]
