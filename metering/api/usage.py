"""`GET /api/v1/metering/usage/`: what a usage chart needs (this week's used, quota, percent, breakdown,
thresholds sent; the past 12 weeks)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import FORBIDDEN, UNAUTHENTICATED, error_response
from metering.selectors.usage import usage_summary

WEEK_FIELDS = {
    "week_key": serializers.CharField(help_text="ISO week, YYYY-Www."),
    "used": serializers.IntegerField(),
    "quota": serializers.IntegerField(),
    "percent": serializers.IntegerField(help_text="Whole percent of the quota used, rounded up."),
    "overflow": serializers.IntegerField(help_text="Units past the quota, taken from the extras."),
    "breakdown": serializers.DictField(child=serializers.IntegerField(), help_text="Units per category."),
    "plan_version": serializers.IntegerField(),
    "thresholds_sent": serializers.ListField(child=serializers.IntegerField(), help_text="Of 80 and 100."),
    "reset_at": serializers.DateTimeField(help_text="When the week ends (Monday 00:00 UTC)."),
}


class UsageView(APIView):
    @extend_schema(
        summary="This week's usage and the past 12 weeks",
        tags=["metering"],
        responses={
            200: inline_serializer(
                "MeteringUsage",
                {
                    "meter_mode": serializers.BooleanField(help_text="False: metering is off (BILLING_METER_MODE)."),
                    "current": inline_serializer("MeteringUsageWeek", WEEK_FIELDS),
                    "past": inline_serializer("MeteringPastUsageWeek", WEEK_FIELDS, many=True),
                },
            ),
            401: error_response(UNAUTHENTICATED),
            403: error_response(FORBIDDEN),
        },
    )
    def get(self, request):
        return Response(usage_summary(account=request.account))
