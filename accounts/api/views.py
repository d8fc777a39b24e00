"""The current account (from the token) and its members."""

from rest_framework import generics, serializers

from accounts.models import Account, Membership
from accounts.selectors import membership_get, membership_list


class AccountSerializer(serializers.ModelSerializer):
    parent_id = serializers.UUIDField(read_only=True)

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


class MembershipDetailView(generics.RetrieveAPIView):
    """One member of the token's account (another account's member is a 404)."""

    serializer_class = MembershipSerializer

    def get_object(self):
        return membership_get(account=self.request.account, membership_id=self.kwargs["pk"])
