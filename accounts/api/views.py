"""The current account (from the token) and its members."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound

from accounts.models import Account, Membership
from accounts.selectors import membership_get, membership_list

# Ids are 64-bit: a larger number in the path names no member (and would overflow the database's integer).
MAX_ID = 2**63 - 1


class AccountSerializer(serializers.ModelSerializer):
    parent_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="The agency, for a sub-account.")

    class Meta:
        model = Account
        fields = ["id", "name", "parent_id", "created_at"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at"]


class CurrentAccountView(generics.RetrieveAPIView):
    serializer_class = AccountSerializer

    def get_object(self):
        return self.request.account


class MembershipListView(generics.ListAPIView):
    """The members of the token's account, oldest first."""

    serializer_class = MembershipSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no account
            return membership_list(account=None)
        return membership_list(account=self.request.account)


ID_PARAMETER = OpenApiParameter(
    "id", {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}, OpenApiParameter.PATH
)


@extend_schema(parameters=[ID_PARAMETER])
class MembershipDetailView(generics.RetrieveAPIView):
    """One member of the token's account (another account's member is a 404)."""

    serializer_class = MembershipSerializer

    def get_object(self):
        if not 1 <= self.kwargs["pk"] <= MAX_ID:
            raise NotFound()
        return membership_get(account=self.request.account, membership_id=self.kwargs["pk"])
