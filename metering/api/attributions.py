"""`POST /api/v1/metering/attributions/`: one attribution, or `{"attributions": [...]}` up to 1,000, each with its
own result. The body is validated here in plain Python, not by a DRF serializer per item: a batch of 1,000 would
otherwise cost more CPU than applying it (docs/metering.md, "Performance")."""

import re

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import FORBIDDEN, INVALID, UNAUTHENTICATED, error_response
from metering.api.parsers import DecimalJSONParser
from metering.services.attribution import AttributionInput, attributions_apply
from metering.units import CATEGORY, BadCost, parse_cost

MAX_BATCH = 1000
HISTORY_ID = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
STEP_KEY = re.compile(r"^[a-zA-Z0-9:_-]{1,64}$")
ITEM_FIELDS = {"history_id", "step_key", "costs"}


def _item(raw, where: str, problems: dict) -> AttributionInput | None:
    if not isinstance(raw, dict):
        problems[where] = ["An attribution is an object: {history_id, step_key?, costs?}."]
        return None
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        problems.update({f"{where}{name}": ["Unknown field."] for name in unknown})
    history_id, step_key, costs = raw.get("history_id"), raw.get("step_key", "initial"), raw.get("costs")
    if not isinstance(history_id, str) or not HISTORY_ID.match(history_id):
        problems[f"{where}history_id"] = ["Required: 1–128 letters, digits, '_' or '-'."]
    if not isinstance(step_key, str) or not STEP_KEY.match(step_key):
        problems[f"{where}step_key"] = ["1–64 letters, digits, ':', '_' or '-' (default `initial`)."]
    if costs is not None:
        if not isinstance(costs, dict):
            problems[f"{where}costs"] = ["An object of category → cost in dollars."]
        else:
            for category, value in costs.items():
                if not CATEGORY.match(category):
                    problems[f"{where}costs.{category}"] = ["A category is letters, digits, '_' and '-' only."]
                    continue
                try:
                    parse_cost(value)
                except BadCost as exc:
                    problems[f"{where}costs.{category}"] = [str(exc)]
    if any(key.startswith(where) for key in problems):
        return None
    return AttributionInput(key=f"{history_id}:{step_key}", costs=costs)


# The body as a raw schema: one attribution, or a batch of them (OpenAPI 3.0 cannot say that a cost's category
# must match CATEGORY: a `costs` key outside it is a 400 naming it).
_COST = {
    "nullable": True,
    "oneOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"},
    ],
    "description": "Dollars, read as a decimal. Missing, null, not finite or ≤ 0: skipped.",
}
_ITEM = {
    "type": "object",
    "properties": {
        "history_id": {"type": "string", "pattern": HISTORY_ID.pattern},
        "step_key": {"type": "string", "pattern": STEP_KEY.pattern, "default": "initial"},
        "costs": {
            "type": "object",
            "nullable": True,
            "additionalProperties": _COST,
            "description": "Category (letters, digits, `_`, `-`) → cost. Null or omitted: METER_RUN_BASE units.",
        },
    },
    "required": ["history_id"],
    "additionalProperties": False,
}
ATTRIBUTION_REQUEST = {
    "oneOf": [
        {"title": "One attribution", **_ITEM},
        {
            "title": "A batch",
            "type": "object",
            "properties": {"attributions": {"type": "array", "items": _ITEM, "minItems": 1, "maxItems": MAX_BATCH}},
            "required": ["attributions"],
            "additionalProperties": False,
        },
    ]
}


class AttributionResultSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="`{history_id}:{step_key}`.")
    applied = serializers.BooleanField(help_text="False: a replay (or metering off); nothing changed.")
    units = serializers.IntegerField()
    extras_debited = serializers.IntegerField(help_text="Units past the weekly quota, taken from the extras.")
    reason = serializers.CharField(
        allow_blank=True,
        help_text="`replay`, `meter_mode_off`, `zero_cost_skipped`, `capped` (MAX_UNITS_PER_OPERATION) or ''.",
    )

    class Meta:
        ref_name = "AttributionResult"


class AttributionBatchResultSerializer(serializers.Serializer):
    results = AttributionResultSerializer(many=True, help_text="One per item, in the order sent.")

    class Meta:
        ref_name = "AttributionBatchResult"


class AttributionsView(APIView):
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        summary="Attribute metered operations (one, or a batch of up to 1,000), each exactly once by its key",
        tags=["metering"],
        request={"application/json": ATTRIBUTION_REQUEST},
        responses={
            200: PolymorphicProxySerializer(
                component_name="AttributionResponse",
                serializers=[AttributionResultSerializer, AttributionBatchResultSerializer],
                resource_type_field_name=None,
            ),
            400: error_response(INVALID + " Nothing is written when any item is invalid."),
            401: error_response(UNAUTHENTICATED),
            403: error_response(FORBIDDEN),
        },
        examples=[
            OpenApiExample("One", value={"history_id": "run_8f2", "costs": {"gpu": "0.42", "llm": "0.013"}}),
            OpenApiExample(
                "A batch (answers {results: [...]})",
                value={"attributions": [{"history_id": "run_8f2", "step_key": "s1", "costs": {"gpu": 0.5}}]},
            ),
        ],
    )
    def post(self, request):
        body = request.data
        problems: dict = {}
        batch = isinstance(body, dict) and "attributions" in body
        if batch:
            raw_items = body["attributions"]
            if set(body) != {"attributions"}:
                problems.update({name: ["Unknown field."] for name in sorted(set(body) - {"attributions"})})
            if not isinstance(raw_items, list) or not 1 <= len(raw_items) <= MAX_BATCH:
                raise serializers.ValidationError({"attributions": [f"A list of 1 to {MAX_BATCH} attributions."]})
            items = [_item(raw, f"attributions[{i}].", problems) for i, raw in enumerate(raw_items)]
        else:
            items = [_item(body, "", problems)]
        if problems:
            raise serializers.ValidationError(problems)
        results = [r.as_dict() for r in attributions_apply(account_id=request.account.pk, items=items)]
        return Response({"results": results} if batch else results[0])
