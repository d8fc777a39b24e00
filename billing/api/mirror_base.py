"""What every list and detail of the account's Stripe has in common (SPEC §4): the token's account only (another
account's object is a 404), read from the mirror, paged by cursor, filtered by django-filter, every object
showing its Stripe id as `id`."""

import uuid

from django_filters import rest_framework as filters
from rest_framework import mixins, serializers, viewsets
from rest_framework.parsers import JSONParser

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from billing.selectors.mirror import mirror_get, mirror_list
from core.api.pagination import KeysetPagination
from core.api.serializers import StrictSerializer

__all__ = ["StrictSerializer"]  # re-exported: the billing API's request bodies import it from here

# Stripe ids: a prefix and letters, digits, underscores. Anything else in a path is not an id (a 404).
STRIPE_ID = r"[A-Za-z0-9_]+"


class StripeObjectSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="stripe_id", read_only=True, help_text="The object's id in Stripe.")
    metadata = serializers.SerializerMethodField()

    BASE_FIELDS = ("id", "created", "livemode", "metadata")

    def get_metadata(self, row) -> dict[str, str]:
        metadata = (row.data or {}).get("metadata")
        return metadata if isinstance(metadata, dict) else {}


class MirrorFilterSet(filters.FilterSet):
    """created_after / created_before for every list. Parameters mean what the schema says: a boolean is `true` or
    `false`, and a date, number or choice is not empty (django-filter would read `null`, `yes` or an empty value
    as "no filter", silently answering more than was asked)."""

    created_after = filters.IsoDateTimeFilter(
        field_name="created", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )

    def is_valid(self):
        form = self.form
        form.is_valid()  # cleans once; errors added below join the field's own
        for name, filter_ in self.filters.items():
            if name not in self.data:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if isinstance(filter_, filters.BooleanFilter) and any(v not in ("true", "false") for v in values):
                form.add_error(name, "Either true or false.")
            elif type(filter_) is not filters.CharFilter and any(v == "" for v in values):
                form.add_error(name, "Give a value, or leave the parameter out.")
        return super().is_valid()


class AccountMirrorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and retrieve one mirrored type. Subclasses name `model`, `serializer_class`, `filterset_class`,
    `ordering_fields` and may narrow `get_queryset` (select_related what the serializer reads: no N+1)."""

    model = None
    lookup_field = "stripe_id"
    lookup_url_kwarg = "stripe_id"
    lookup_value_regex = STRIPE_ID
    pagination_class = KeysetPagination
    parser_classes = [JSONParser]  # the SPA speaks JSON; one request media type keeps the contract exact
    ordering = "-created"
    ordering_fields: tuple[str, ...] = ("created",)
    # Reads: any member. Writes to Stripe: owners and admins (docs/billing-api.md, "Who may do what").
    write_actions = frozenset({"create", "update", "partial_update", "destroy"})

    def get_permissions(self):
        if self.action in self.write_actions:
            return [IsAccountAdmin()]
        return [IsAccountMember()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request account
            return self.model.objects.none()
        return mirror_list(account=self.request.account, model=self.model)

    def get_object(self):
        return mirror_get(account=self.request.account, model=self.model, stripe_id=self.kwargs[self.lookup_url_kwarg])


def client_request_id(request, body_value: str | None = None) -> str:
    """The client's request id for an idempotent write: the body's own field, else the `Idempotency-Key` header,
    else a fresh one (which still makes the SDK's own retries of this request safe)."""
    return body_value or request.headers.get("Idempotency-Key") or uuid.uuid4().hex
