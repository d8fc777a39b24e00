"""Page-number pagination whose query parameters are validated, not guessed: DRF's own falls back to the default
page size for `page_size=abc` or `page_size=0` and clamps a larger one, so the schema could not say what a
request means. A malformed `page` or `page_size` is a 400; a well-formed page past the end is a 404 (it does not
exist), both in the one error shape and both in the schema."""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,8}")


class DefaultPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # the schema says `page` is an integer; "last" is not one

    def paginate_queryset(self, queryset, request, view=None):
        self._validate(request)
        return super().paginate_queryset(queryset, request, view)

    def _validate(self, request) -> None:
        problems = {}
        page = request.query_params.get(self.page_query_param)
        if page is not None and not _POSITIVE_INT.fullmatch(page):
            problems[self.page_query_param] = ["A page number is a whole number from 1."]
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and not (_POSITIVE_INT.fullmatch(size) and int(size) <= self.max_page_size):
            problems[self.page_size_query_param] = [f"A page size is a whole number from 1 to {self.max_page_size}."]
        if problems:
            raise ValidationError(problems)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
                parameter["description"] = "Page number, from 1. A page past the last one is a 404."
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
        return parameters
