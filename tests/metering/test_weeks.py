"""ISO week keys and the next reset (metering/weeks.py, pure)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metering.weeks import next_monday, week_key, week_start


@pytest.mark.parametrize(
    ("day", "key"),
    [
        (date(2026, 12, 31), "2026-W53"),
        (date(2027, 1, 1), "2026-W53"),
        (date(2027, 1, 4), "2027-W01"),
        (date(2020, 12, 31), "2020-W53"),
        (date(2021, 1, 3), "2020-W53"),
        (date(2019, 12, 30), "2020-W01"),
        (date(2024, 12, 30), "2025-W01"),
        (date(2026, 12, 2), "2026-W49"),
        (date(2015, 12, 31), "2015-W53"),
        (date(2016, 1, 1), "2015-W53"),
    ],
)
def test_week_keys_across_year_boundaries(day, key):
    assert week_key(day) == key


def test_the_key_is_of_the_utc_date():
    from zoneinfo import ZoneInfo

    # Monday 01:00 in Paris is still Sunday 23:00 UTC: the previous week.
    moment = datetime(2027, 1, 4, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert week_key(moment) == "2026-W53"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        week_key(datetime(2026, 1, 1))


def test_next_monday_is_midnight_utc():
    assert next_monday(datetime(2026, 12, 2, 15, tzinfo=UTC)) == datetime(2026, 12, 7, tzinfo=UTC)
    assert next_monday(datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) == datetime(2026, 12, 14, tzinfo=UTC)


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_week_keys_agree_with_the_iso_calendar(day):
    year, week, _ = day.isocalendar()
    assert week_key(day) == f"{year:04d}-W{week:02d}"


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)))
def test_a_week_is_seven_days_from_monday(moment):
    start = week_start(moment)
    assert start.weekday() == 0 and start <= moment < next_monday(moment) == start + timedelta(days=7)
    assert week_key(start) == week_key(moment) == week_key(next_monday(moment) - timedelta(microseconds=1))
