"""Page-number pagination whose query parameters are validated, not guessed: DRF's own falls back to the default
page size for `page_size=abc` or `page_size=0` and clamps a larger one, so the schema could not say what a
request means. A malformed `page` or `page_size` is a 400; a well-formed page past the end is a 404 (it does not
exist), both in the one error shape and both in the schema."""

import base64
import binascii
import json
import re
from datetime import date, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

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


class KeysetPagination(BasePagination):
    """Cursor pagination for large lists (`{"results", "next", "previous"}`): a page is `WHERE (key, id) after
    the cursor ORDER BY key, id LIMIT n + 1`, so the thousandth page costs what the first does, a row inserted
    meanwhile never shifts or repeats a page, and nothing is counted. The key is the view's `ordering` (one
    field, `-` for descending, chosen by `?ordering=` among `ordering_fields`), always tie-broken by the primary
    key; NULL keys sort last either way, on every backend.

    The cursor is opaque to clients (base64 of the last row's key and id and the direction); one this list did
    not hand out names no page: a 404, as DRF's own cursor pagination answers (an empty one is the first page)."""

    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.size = self._page_size(request)
        self.field, self.descending = self._ordering(request, view)
        cursor = self._decode(request.query_params.get(self.cursor_query_param) or None, queryset.model)
        backwards = bool(cursor and cursor["reverse"])
        # Reading backwards (the "previous" link) walks the other way, then the page is put back in order.
        rows = self._rows(queryset, cursor, descending=self.descending != backwards, limit=self.size + 1)
        more = len(rows) > self.size
        rows = rows[: self.size]
        if backwards:
            rows.reverse()
        self.next_cursor = self.previous_cursor = None
        if rows and not backwards:
            self.next_cursor = self._position(rows[-1], reverse=False) if more else None
            self.previous_cursor = self._position(rows[0], reverse=True) if cursor is not None else None
        elif rows:
            self.next_cursor = self._position(rows[-1], reverse=False)
            self.previous_cursor = self._position(rows[0], reverse=True) if more else None
        elif cursor is not None:  # past either end (the rows were deleted meanwhile): offer the way back
            self.next_cursor = self._encode(cursor["value"], cursor["pk"], reverse=False) if backwards else None
            self.previous_cursor = None if backwards else self._encode(cursor["value"], cursor["pk"], reverse=True)
        return rows

    def get_paginated_response(self, data):
        return Response(
            {"results": data, "next": self._link(self.next_cursor), "previous": self._link(self.previous_cursor)}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {"results": schema, "next": link, "previous": link},
        }

    def get_schema_operation_parameters(self, view):
        fields = ", ".join(f"`{name}`" for name in getattr(view, "ordering_fields", ()))
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "Opaque: the `next` or `previous` link's cursor; one this list did not give is a 404.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Results per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
            {
                "name": self.ordering_query_param,
                "in": "query",
                "required": False,
                "description": f"Sort key, `-` first for descending: {fields} (default `{view.ordering}`); ties "
                "are broken by creation order.",
                "schema": {"type": "string", "enum": _ordering_choices(view)},
            },
        ]

    # --- the parts ---------------------------------------------------------------------------------------------
    def _page_size(self, request) -> int:
        size = request.query_params.get(self.page_size_query_param)
        if size is None:
            return self.page_size
        if not (_POSITIVE_INT.fullmatch(size) and int(size) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"A page size is a whole number from 1 to {self.max_page_size}."]}
            )
        return int(size)

    def _ordering(self, request, view) -> tuple[str, bool]:
        requested = request.query_params.get(self.ordering_query_param)
        if requested is None:  # left out: the default; empty is not one of the schema's choices, a 400
            requested = view.ordering
        if requested not in _ordering_choices(view):
            choices = ", ".join(_ordering_choices(view))
            raise ValidationError({self.ordering_query_param: [f"Sort by one of: {choices}."]})
        return requested.lstrip("-"), requested.startswith("-")

    def _rows(self, queryset, cursor, *, descending: bool, limit: int) -> list:
        """Up to `limit` rows after the cursor, walking `descending` or not. The order is two segments: rows with a
        key by (key, pk), then rows without one by pk (NULLs last, on every backend), reversed when walking
        backwards. Each segment is one plain index-order query, `key <= v AND (key < v OR pk < p)` with no OR
        across NULLs, so the database walks its (account, key) index from the cursor and stops after `limit`
        rows: the thousandth page costs what the first does. Costs one query, two where a page spans both."""
        field = self.field
        segments = [False, True]  # key is null?
        if descending != self.descending:
            segments.reverse()
        rows: list = []
        reached = cursor is None
        for null_segment in segments:
            part = queryset.filter(**{f"{field}__isnull": null_segment})
            if not reached:
                if (cursor["value"] is None) != null_segment:
                    continue  # the cursor lies in a later segment
                reached = True
                part = part.filter(self._after(field, descending, cursor["value"], cursor["pk"]))
            order = ("-pk",) if descending else ("pk",)
            if not null_segment:
                order = (F(field).desc() if descending else F(field).asc(), *order)
            rows += list(part.order_by(*order)[: limit - len(rows)])
            if len(rows) >= limit:
                break
        return rows

    @staticmethod
    def _after(field: str, descending: bool, value, pk) -> Q:
        """Rows strictly after (value, pk) within the cursor's segment."""
        beyond = "lt" if descending else "gt"
        if value is None:
            return Q(**{f"pk__{beyond}": pk})
        within = "lte" if descending else "gte"
        return Q(**{f"{field}__{within}": value}) & (Q(**{f"{field}__{beyond}": value}) | Q(**{f"pk__{beyond}": pk}))

    def _position(self, row, *, reverse: bool) -> str:
        return self._encode(getattr(row, self.field), row.pk, reverse=reverse)

    def _encode(self, value, pk, *, reverse: bool) -> str:
        if isinstance(value, datetime | date):
            value = value.isoformat()
        payload = json.dumps({"v": value, "p": pk, "r": int(reverse), "o": self._ordering_key()}, default=str)
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def _ordering_key(self) -> str:
        return ("-" if self.descending else "") + self.field

    def _decode(self, raw: str | None, model):
        if raw is None:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            if payload["o"] != self._ordering_key():
                raise ValueError("another ordering")
            field = model._meta.get_field(self.field)
            value = None if payload["v"] is None else field.to_python(payload["v"])
            pk = model._meta.pk.to_python(payload["p"])
            return {"value": value, "pk": pk, "reverse": bool(payload["r"])}
        except (ValueError, KeyError, TypeError, DjangoValidationError, binascii.Error):
            raise NotFound(
                "No such page: the cursor is not one this list handed out for this ordering. Follow `next` or "
                "`previous`, or leave `cursor` out for the first page."
            ) from None

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)


def _ordering_choices(view) -> list[str]:
    return [choice for name in view.ordering_fields for choice in (name, f"-{name}")]
