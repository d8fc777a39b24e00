"""Notes on the account's customers (SPEC §4, docs/billing-api.md "Customer notes"): `customers/<id>/notes/`
CRUD, and `notes/export.csv`, every note of the account as a streamed CSV. Our own records: Stripe is never
called, so none of these answers 409, 422 or 502."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.mirror_base import MirrorFilterSet, StrictSerializer
from billing.models import Customer, CustomerNote
from billing.selectors.mirror import mirror_get
from billing.selectors.notes import note_export_header, note_export_rows, note_get, note_list
from billing.services.notes import NOTE_MAX_LENGTH, note_create, note_delete, note_update
from core.api.csv_export import csv_chunks, csv_response
from core.api.pagination import KeysetPagination
from core.api.schema import error_response

TAG = "billing: customer notes"


class NoteAuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField(help_text="The author's full name, else username.")
    email = serializers.EmailField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class CustomerNoteSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.stripe_id", read_only=True, help_text="The customer's Stripe id.")
    author = NoteAuthorSerializer(read_only=True, allow_null=True, help_text="Null once the author's user is deleted.")

    class Meta:
        model = CustomerNote
        fields = ("id", "customer", "author", "body", "created_at", "updated_at")


class NoteWriteSerializer(StrictSerializer):
    body = serializers.CharField(
        max_length=NOTE_MAX_LENGTH,
        help_text=f"The note: 1 to {NOTE_MAX_LENGTH:,} characters (spaces around it are trimmed).",
    )


class NoteFilter(MirrorFilterSet):
    """MirrorFilterSet's rules (an empty date is a 400, not "no filter"), on the note's own `created_at`."""

    created_after = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Written at or after (ISO 8601 date or date-time)."
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Written before (ISO 8601 date or date-time)."
    )

    class Meta:
        model = CustomerNote
        fields = ["created_after", "created_before"]


class NoteExportFilter(NoteFilter):
    customer = filters.CharFilter(help_text="Only this customer's notes (its Stripe id).")

    class Meta:
        model = CustomerNote
        fields = ["customer", "created_after", "created_before"]


NOTE_EXAMPLE = OpenApiExample("A note", value={"body": "Called on 3 May: wants annual billing."}, request_only=True)
CUSTOMER_PARAMETER = OpenApiParameter(
    "customer_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The customer's Stripe id."
)
NOT_THE_AUTHOR = error_response(
    "Not a member of the token's account; or, to change or delete a note, neither its author nor an owner or "
    "admin of the account (`forbidden`)."
)


@extend_schema(tags=[TAG], parameters=[CUSTOMER_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="A customer's notes, newest first"),
    retrieve=extend_schema(summary="One note"),
    create=extend_schema(
        summary="Write a note on a customer (any member)",
        request=NoteWriteSerializer,
        responses={201: CustomerNoteSerializer},
        examples=[NOTE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change a note's body (its author, an owner or an admin)",
        request=NoteWriteSerializer,
        responses={200: CustomerNoteSerializer, 403: NOT_THE_AUTHOR},
        examples=[NOTE_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a note (its author, an owner or an admin)", responses={204: None, 403: NOT_THE_AUTHOR}
    ),
)
class CustomerNoteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Any member reads and writes notes; who may change or delete one is the service's rule
    (billing/services/notes.py). The customer is looked up in the account first: another account's → 404."""

    serializer_class = CustomerNoteSerializer
    filterset_class = NoteFilter
    pagination_class = KeysetPagination
    ordering = "-created_at"
    ordering_fields = ("created_at",)
    lookup_value_regex = "[0-9]+"
    parser_classes = [JSONParser]  # as the rest of the billing API: JSON bodies only
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def customer(self) -> Customer:
        if not hasattr(self, "_customer"):
            stripe_id = self.kwargs["customer_id"]
            self._customer = mirror_get(account=self.request.account, model=Customer, stripe_id=stripe_id)
        return self._customer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no request account
            return CustomerNote.objects.none()
        return note_list(account=self.request.account, customer=self.customer())

    def get_object(self):
        return note_get(account=self.request.account, customer=self.customer(), note_id=self.kwargs["pk"])

    def create(self, request, customer_id):
        body = NoteWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = note_create(
            account=request.account, customer=self.customer(), author=request.user, body=body.validated_data["body"]
        )
        return Response(CustomerNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, customer_id, pk):
        note = self.get_object()
        body = NoteWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = note_update(note=note, membership=request.membership, body=body.validated_data["body"])
        return Response(CustomerNoteSerializer(note).data)

    def destroy(self, request, customer_id, pk):
        note_delete(note=self.get_object(), membership=request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The export's body is CSV whatever the client accepts (a browser, a spreadsheet, `Accept: text/csv`); its
    errors, rendered before the stream starts, are the one JSON error shape."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class NoteExportView(APIView):
    """Every note of the account (or one customer's, or a date range's) as a CSV download, streamed: the query
    parameters are validated first (a bad one is a 400 in the one JSON shape), then rows flow from a database
    cursor to the client in chunks, so memory is flat whatever the number of notes."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        operation_id="v1_billing_notes_export",
        summary="Export the account's customer notes as CSV (any member)",
        description=(
            "UTF-8 with a BOM (spreadsheets read non-ASCII names), a header row, the `csv` module's Excel quoting "
            "(a comma, quote or line break stays inside its cell), oldest note first. A text cell beginning with "
            "`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so a spreadsheet never runs it as a "
            "formula. Columns: " + ", ".join(f"`{name}`" for name in note_export_header()) + "."
        ),
        tags=[TAG],
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.STR, description="Only this customer's notes (its Stripe id)."),
            OpenApiParameter(
                "created_after", OpenApiTypes.DATETIME, description="Written at or after (ISO 8601 date or date-time)."
            ),
            OpenApiParameter(
                "created_before", OpenApiTypes.DATETIME, description="Written before (ISO 8601 date or date-time)."
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description='A `Content-Disposition: attachment; filename="notes-<date>.csv"` download.',
            ),
            400: error_response("A bad filter value (`validation_error`; `details.fields` names it), before any CSV."),
        },
    )
    def get(self, request):
        params = NoteExportFilter(request.query_params, queryset=CustomerNote.objects.none())
        if not params.is_valid():
            raise ValidationError(params.errors)
        rows = note_export_rows(
            account=request.account,
            customer_stripe_id=params.form.cleaned_data.get("customer") or None,
            created_after=params.form.cleaned_data.get("created_after"),
            created_before=params.form.cleaned_data.get("created_before"),
        )
        filename = f"notes-{timezone.now().date().isoformat()}.csv"
        return csv_response(request, csv_chunks(note_export_header(), rows), filename=filename)
