"""GET /api/v1/billing/overview/: the account's revenue overview (issue 11, item 7). A thin view over
selectors/overview.py; what counts is said there, in the schema below and in docs/overview.md."""

import re
import zoneinfo
from functools import cache

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors.overview import (
    DEFAULT_DAYS,
    MAX_DATE,
    MAX_DAYS,
    MIN_DATE,
    overview_window,
    revenue_overview,
    window_errors,
)
from core.api.schema import error_response


@cache
def time_zones() -> list[str]:
    """IANA names (Python's tz database; PostgreSQL knows the same), less `localtime` (whatever the server's
    clock is set to) and `Factory` (no place's time)."""
    return sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


class CalendarDateField(serializers.DateField):
    """YYYY-MM-DD only: Python would also read 20260301 or 2026-W10-1, which the schema's `date` format is not."""

    _SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")

    def to_internal_value(self, value):
        if not isinstance(value, str) or not self._SHAPE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class OverviewQuerySerializer(serializers.Serializer):
    """The query string. An empty value (`?start_date=`) is the same as none: DRF's rule for query strings."""

    start_date = CalendarDateField(required=False)
    end_date = CalendarDateField(required=False)
    tz = serializers.ChoiceField(
        choices=time_zones(),
        required=False,
        default="UTC",
        error_messages={"invalid_choice": '"{input}" is not an IANA time zone name (e.g. "Europe/Berlin", "UTC").'},
    )

    def validate(self, attrs):
        window = overview_window(start=attrs.get("start_date"), end=attrs.get("end_date"), tz=attrs["tz"])
        errors = window_errors(window, end_given="end_date" in attrs)
        if errors:
            raise serializers.ValidationError({name: [message] for name, message in errors.items()})
        return {"window": window}

    def to_internal_value(self, data):
        attrs = super().to_internal_value(data)
        attrs["tz"] = zoneinfo.ZoneInfo(attrs["tz"])
        return attrs


_EMPTY = {"type": "string", "maxLength": 0}
QUERY_PARAMETERS = [
    OpenApiParameter(
        "start_date",
        {"oneOf": [{"type": "string", "format": "date"}, _EMPTY]},
        description=f"First day (YYYY-MM-DD), included, in `tz`. Default: {DEFAULT_DAYS - 1} days before "
        "`end_date` (a 30-day window).",
    ),
    OpenApiParameter(
        "end_date",
        {"oneOf": [{"type": "string", "format": "date"}, _EMPTY]},
        description=f"Last day (YYYY-MM-DD), included, in `tz`. Default: today in `tz`. The window, both days "
        f"counted, is at most {MAX_DAYS} days; dates between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}.",
    ),
    OpenApiParameter(
        "tz",
        {"oneOf": [{"type": "string", "enum": time_zones()}, _EMPTY], "default": "UTC"},
        description="The IANA time zone whose calendar days the window and the daily series count "
        "(`Europe/Berlin`, `America/New_York`). Default `UTC`.",
    ),
]


# --- the response, for the schema (the view answers the selector's dict as it is: a 366-day series in three
# currencies is 1,100 rows, which DRF's field-by-field serialisation would take longer to write than the
# database takes to add them up) -------------------------------------------------------------------------------
class MetricSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="This window's figure (money: minor units).")
    previous = serializers.IntegerField(help_text="The previous window's.")
    change = serializers.IntegerField(help_text="value − previous.")
    change_percent = serializers.FloatField(
        allow_null=True, help_text="change / |previous| x 100, rounded to 0.1; null when previous is 0."
    )


class AverageMetricSerializer(MetricSerializer):
    value = serializers.IntegerField(allow_null=True, help_text="Minor units; null when nobody paid.")
    previous = serializers.IntegerField(allow_null=True)
    change = serializers.IntegerField(allow_null=True, help_text="Null when either figure is null.")


class RefundsSerializer(serializers.Serializer):
    count = MetricSerializer()
    amount = MetricSerializer()


class DisputesSerializer(serializers.Serializer):
    count = MetricSerializer()
    amount = MetricSerializer(help_text="Disputed amount of the disputes opened.")
    lost_amount = MetricSerializer(help_text="Amount of the disputes opened in the window that are now lost.")


class CurrencyDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    gross_volume = serializers.IntegerField()
    net_volume = serializers.IntegerField()
    successful_payments = serializers.IntegerField()
    refunds_count = serializers.IntegerField()
    refunds_amount = serializers.IntegerField()
    disputes_count = serializers.IntegerField()
    disputes_amount = serializers.IntegerField()
    disputes_lost_amount = serializers.IntegerField()


class CurrencyOverviewSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="ISO code, lower case as Stripe writes it.")
    gross_volume = MetricSerializer(help_text="Captured amount of the succeeded charges.")
    net_volume = MetricSerializer(help_text="Gross − refunded − lost disputes, before Stripe's fees.")
    successful_payments = MetricSerializer()
    refunds = RefundsSerializer(help_text="Refunds succeeded or pending, by the refund's own date.")
    disputes = DisputesSerializer(help_text="Disputes by the day they were opened; inquiries excluded.")
    paying_customers = MetricSerializer(help_text="Distinct customers with a payment in this currency.")
    average_revenue_per_paying_customer = AverageMetricSerializer(
        help_text="Gross volume of the paying customers' payments / paying customers, rounded half up."
    )
    daily = CurrencyDaySerializer(many=True, help_text="Every day of the window, in order; zeros when quiet.")


class WindowSerializer(serializers.Serializer):
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    days = serializers.IntegerField()
    tz = serializers.CharField()


class PreviousWindowSerializer(serializers.Serializer):
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    new_customers = serializers.IntegerField()


class OverviewSerializer(serializers.Serializer):
    window = WindowSerializer()
    previous_window = PreviousWindowSerializer(help_text="The same number of days, ending the day before.")
    new_customers = MetricSerializer(help_text="Customers created in the window (all currencies).")
    currencies = CurrencyOverviewSerializer(
        many=True, help_text="Each currency with activity in either window; largest gross volume first."
    )
    daily = DaySerializer(many=True, help_text="Every day of the window, in order.")


def _metric(value, previous, change, percent):
    return {"value": value, "previous": previous, "change": change, "change_percent": percent}


_EXAMPLE_DAYS = [
    {
        "date": "2026-03-10",
        "gross_volume": 5000,
        "net_volume": 5000,
        "successful_payments": 2,
        "refunds_count": 0,
        "refunds_amount": 0,
        "disputes_count": 0,
        "disputes_amount": 0,
        "disputes_lost_amount": 0,
    },
    {
        "date": "2026-03-11",
        "gross_volume": 2000,
        "net_volume": 1500,
        "successful_payments": 1,
        "refunds_count": 1,
        "refunds_amount": 500,
        "disputes_count": 1,
        "disputes_amount": 2000,
        "disputes_lost_amount": 0,
    },
]
OVERVIEW_EXAMPLE = {
    "window": {"start_date": "2026-03-10", "end_date": "2026-03-11", "days": 2, "tz": "Europe/Berlin"},
    "previous_window": {"start_date": "2026-03-08", "end_date": "2026-03-09"},
    "new_customers": _metric(3, 0, 3, None),
    "currencies": [
        {
            "currency": "eur",
            "gross_volume": _metric(7000, 5000, 2000, 40.0),
            "net_volume": _metric(6500, 5000, 1500, 30.0),
            "successful_payments": _metric(3, 2, 1, 50.0),
            "refunds": {"count": _metric(1, 0, 1, None), "amount": _metric(500, 0, 500, None)},
            "disputes": {
                "count": _metric(1, 0, 1, None),
                "amount": _metric(2000, 0, 2000, None),
                "lost_amount": _metric(0, 0, 0, None),
            },
            "paying_customers": _metric(2, 2, 0, 0.0),
            "average_revenue_per_paying_customer": _metric(3500, 2500, 1000, 40.0),
            "daily": _EXAMPLE_DAYS,
        }
    ],
    "daily": [{"date": "2026-03-10", "new_customers": 2}, {"date": "2026-03-11", "new_customers": 1}],
}


class OverviewView(APIView):
    """Any member of the account (the default permission)."""

    @extend_schema(
        summary="Revenue overview: volumes, refunds, disputes and customers against the previous window",
        tags=["billing: overview"],
        parameters=QUERY_PARAMETERS,
        responses={
            200: OverviewSerializer,
            400: error_response(
                "A query parameter is wrong (`validation_error`; `details.fields` names it): a date not "
                "YYYY-MM-DD or out of range, `end_date` before `start_date`, a window over "
                f"{MAX_DAYS} days, or an unknown `tz`."
            ),
        },
        examples=[
            OpenApiExample("Two days in Berlin", value=OVERVIEW_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "End before start",
                value={
                    "error": {
                        "code": "validation_error",
                        "message": "end_date: Must not be before start_date (2026-03-10).",
                        "details": {"fields": {"end_date": ["Must not be before start_date (2026-03-10)."]}},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
        description=(
            "The account's own Stripe revenue for calendar days `start_date`..`end_date` (both included) in "
            "`tz`, each figure with the previous window of the same length and the change, per currency, and a "
            "daily series (every day present, zeros when quiet). Computed from the mirror by the database, never "
            "asked of Stripe.\n\n"
            "What counts: a payment is a charge `succeeded` and captured (`amount_captured`, on the day of the "
            "charge); a refund is `succeeded` or `pending`, on the day of the refund (not of its charge); a "
            "dispute is counted on the day it was opened, inquiries (`warning_*`) excluded, and `lost_amount` "
            "is the amount of those now `lost`; net volume = gross − refunds − lost disputes, before Stripe's "
            "fees. New customers are customers created in the window, not per currency. Money is in minor units."
        ),
    )
    def get(self, request):
        query = OverviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(revenue_overview(account=request.account, window=query.validated_data["window"]))
