"""The OpenAPI schema says what the code does (issue 10, item 7): every status an operation answers is documented,
each error with the one error shape, `{"error": {"code", "message", "details"}}` (components `Error` and
`ErrorDetail`). This AutoSchema adds the statuses every operation of a kind answers, so no view can forget them:

- 401 and 403 where a permission other than AllowAny guards the operation (no, bad or expired token; not a member,
  or not allowed that action);
- 400 where a body or query parameters are validated;
- 404 where a path names an object or a list is paged (a page past the end).
What is particular to one operation (409, 502, a 404 with its own meaning) is declared on its view, which wins."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.api.serializers import StrictSerializer


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: `validation_error`, `not_authenticated`, ...")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    details = serializers.DictField(help_text="Per error: e.g. `fields` for a validation error.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


def error_response(description: str) -> OpenApiResponse:
    """An error status in the one error shape, for views' own `@extend_schema(responses=...)`."""
    return OpenApiResponse(response=ErrorSerializer, description=description)


UNAUTHENTICATED = (
    "No access token, or one that is malformed, expired or signed by another key "
    "(`not_authenticated`, `token_not_valid`)."
)
FORBIDDEN = "Not a member of the token's account, or a role that may not do this."
INVALID = "The request does not validate (`validation_error`; `details.fields` names each field)."
NOT_FOUND = "No such object in the token's account (another account's is a 404 too), or a page past the last."


class AutoSchema(SpectacularAutoSchema):
    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if isinstance(serializer, dict) and ("oneOf" in serializer or serializer.get("required")):
            # A body given as a raw schema (e.g. either/or credentials) is as required as its fields are;
            # drf-spectacular would call it optional, and an empty POST is refused.
            required = True
        return schema, required

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False  # it refuses unknown fields: say so
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, description in self._standard_errors().items():
            responses.setdefault(status, self._get_response_for_code(error_response(description), status))
        return dict(sorted(responses.items()))

    def _standard_errors(self) -> dict[str, str]:
        errors = {}
        if self._guarded():
            errors["401"] = UNAUTHENTICATED
            errors["403"] = FORBIDDEN
        if self._validates_input():
            errors["400"] = INVALID
        if (self._names_an_object() and self._guarded()) or self._is_list_view():
            errors["404"] = NOT_FOUND
        return errors

    def _guarded(self) -> bool:
        permissions = self.view.get_permissions() if hasattr(self.view, "get_permissions") else []
        return any(not isinstance(permission, AllowAny) for permission in permissions)

    def _validates_input(self) -> bool:
        if self._is_list_view():
            return True  # page and page_size
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def _names_an_object(self) -> bool:
        return "{" in self.path
