"""`GET /api/v1/contacts/` (filters: type, email, source, stripe_customer_id) and one contact, for any member."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from contacts_import.models import Contact
from contacts_import.selectors.contacts import contact_get, contact_list

TAG = "contacts"


def _address(contact: Contact, kind: str) -> dict:
    return {
        part: getattr(contact, f"{kind}_{part}")
        for part in ("street", "city", "state_province", "postal_code", "country")
    }


class AddressSerializer(serializers.Serializer):
    street = serializers.CharField()
    city = serializers.CharField()
    state_province = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()


class ContactSerializer(serializers.ModelSerializer):
    address = serializers.SerializerMethodField()
    shipping = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = (
            "id",
            "type",
            "email",
            "first_name",
            "last_name",
            "business_name",
            "phone",
            "address",
            "shipping",
            "custom_fields",
            "source",
            "stripe_customer_id",
            "owner",
            "created_by",
            "old_field_values",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(AddressSerializer)
    def get_address(self, contact) -> dict:
        return _address(contact, "address")

    @extend_schema_field(AddressSerializer)
    def get_shipping(self, contact) -> dict:
        return _address(contact, "shipping")


FILTERS = [
    OpenApiParameter("type", OpenApiTypes.STR, enum=Contact.Type.values),
    OpenApiParameter("email", OpenApiTypes.STR, description="Exact email (case does not matter)."),
    OpenApiParameter("source", OpenApiTypes.STR, enum=["manual", "stripe"]),
    OpenApiParameter("stripe_customer_id", OpenApiTypes.STR),
]


@extend_schema(tags=[TAG])
@extend_schema_view(
    list=extend_schema(summary="The account's contacts, oldest first", parameters=FILTERS),
    retrieve=extend_schema(summary="One contact"),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ContactSerializer
    lookup_value_regex = "[0-9]{1,18}"
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Contact.objects.none()
        params = self.request.query_params
        contact_type = params.get("type")
        if contact_type and contact_type not in Contact.Type.values:
            raise ValidationError({"type": ["person or business."]})
        source = params.get("source")
        if source and source not in Contact.Source.values:
            raise ValidationError({"source": ["manual or stripe."]})
        return contact_list(
            account=self.request.account,
            type=contact_type,
            email=params.get("email"),
            source=source,
            stripe_customer_id=params.get("stripe_customer_id"),
        ).order_by("id")

    def get_object(self):
        return contact_get(account=self.request.account, contact_id=self.kwargs["pk"])
