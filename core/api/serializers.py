"""Serializer pieces every app's API shares."""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A request body whose unknown fields are refused, not ignored: a misspelt field would be a silent no-op.
    The schema says so too (`additionalProperties: false`, core/api/schema.py)."""

    def validate(self, attrs):
        unknown = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs
