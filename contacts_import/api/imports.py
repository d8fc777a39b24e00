"""Import jobs (SPEC §6, §11): `POST /api/v1/contacts/imports/` (owners and admins) validates the mapping before
anything is queued; `GET` lists them and shows one with its status, counts and problems (any member);
`POST .../<id>/cancel/` (owners and admins)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from accounts.tenancy import IsAccountAdmin, IsAccountMember
from contacts_import.models import Contact, ImportJob
from contacts_import.selectors.imports import import_job_get, import_job_list
from contacts_import.services.jobs import import_job_cancel, import_job_create
from core.api.schema import error_response
from core.api.serializers import StrictSerializer

TAG = "contacts: imports"
LIMIT_MAX = 1_000_000


class ProblemSerializer(serializers.Serializer):
    stripe_customer_id = serializers.CharField(allow_null=True)
    email = serializers.CharField()
    reason = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer):
    errors = serializers.IntegerField(help_text="How many customers could not be imported (details below).")
    error_details = ProblemSerializer(many=True, help_text="The first 1,000 of them: id, email and reason.")
    skipped_details = ProblemSerializer(many=True, help_text="Why customers were left alone (first 1,000).")

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "type",
            "mappings",
            "new_contact",
            "limit",
            "status",
            "failure_reason",
            "cancel_requested",
            "processed",
            "added",
            "updated",
            "skipped",
            "errors",
            "error_details",
            "skipped_details",
            "pages",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        )


class JSONBooleanField(serializers.BooleanField):
    """`true` or `false` only: DRF's BooleanField also takes 0, 1, "yes", "on"..., which the schema does not allow."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class JSONIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "5", 5.0 and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ImportJobCreateSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Contact.Type.choices)
    mappings = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        default=dict,
        help_text="{stripe field: contact field}; `address-city` and `address.city` are the same key "
        "(docs/contacts-import.md lists the keys).",
    )
    new_contact = JSONBooleanField(help_text="Create contacts for customers that match none (else: update only).")
    limit = JSONIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=LIMIT_MAX,
        help_text="Import at most this many customers.",
    )


EXAMPLE = OpenApiExample(
    "Persons, with addresses and a custom field",
    value={
        "type": "person",
        "mappings": {"name": "name", "phone": "phone", "address": "address", "metadata.plan": "custom.plan"},
        "new_contact": True,
    },
    request_only=True,
)


@extend_schema(tags=[TAG])
@extend_schema_view(
    list=extend_schema(summary="The account's imports, newest first"),
    retrieve=extend_schema(summary="One import: status, progress and results"),
    create=extend_schema(
        summary="Start an import of the account's Stripe customers (owners and admins)",
        request=ImportJobCreateSerializer,
        responses={
            201: ImportJobSerializer,
            400: error_response("A bad body or mapping (`invalid_mapping`: `details.fields.mappings` names each key)."),
        },
        examples=[EXAMPLE],
    ),
    cancel=extend_schema(
        summary="Cancel an import (owners and admins): a pending one at once, a running one after its page",
        request=None,
        responses={200: ImportJobSerializer, 409: error_response("The import already finished (`import_finished`).")},
    ),
)
class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ImportJobSerializer
    lookup_value_regex = "[0-9]{1,18}"
    parser_classes = [JSONParser]
    filter_backends = []

    def get_permissions(self):
        return [IsAccountMember()] if self.request.method in ("GET", "HEAD", "OPTIONS") else [IsAccountAdmin()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        return import_job_list(account=self.request.account).order_by("-created_at", "-id")

    def get_object(self):
        return import_job_get(account=self.request.account, job_id=self.kwargs["pk"])

    def create(self, request):
        body = ImportJobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = import_job_create(account=request.account, user=request.user, **body.validated_data)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk):
        job = import_job_cancel(job=self.get_object())
        return Response(ImportJobSerializer(job).data)
