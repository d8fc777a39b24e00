"""The current account (from the token) and its members."""

from rest_framework import generics, serializers

from billing.api.permissions import AccountScopedMixin
from billing.models import Account, Membership


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


class MembershipListView(AccountScopedMixin, generics.ListAPIView):
    serializer_class = MembershipSerializer
    queryset = Membership.objects.select_related("user").order_by("created_at")


class MembershipDetailView(AccountScopedMixin, generics.RetrieveAPIView):
    serializer_class = MembershipSerializer
    queryset = Membership.objects.select_related("user")
