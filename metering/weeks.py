"""ISO weeks, the metering period (METERING.md "Attribution", "Weekly reset"). Pure: no ORM, no settings.

A week key is `YYYY-Www` of the ISO calendar: move the UTC date to its week's Thursday, whose year is the week's
year (so 2026-12-31 is 2026-W53, 2027-01-01 is 2026-W53 too, 2020-12-31 is 2020-W53, 2019-12-30 is 2020-W01)."""

from datetime import UTC, date, datetime, time, timedelta


def _utc_date(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("A naive datetime has no UTC date: give an aware one.")
        return moment.astimezone(UTC).date()
    return moment


def week_key(moment: datetime | date) -> str:
    day = _utc_date(moment)
    thursday = day + timedelta(days=3 - day.weekday())
    # The Thursday's ordinal week number: its day of the year, counted in weeks from 1.
    return f"{thursday.year:04d}-W{(thursday.timetuple().tm_yday - 1) // 7 + 1:02d}"


def week_start(moment: datetime | date) -> datetime:
    """Monday 00:00 UTC of the ISO week holding `moment`."""
    day = _utc_date(moment)
    return datetime.combine(day - timedelta(days=day.weekday()), time.min, tzinfo=UTC)


def next_monday(moment: datetime | date) -> datetime:
    """The next Monday 00:00 UTC strictly after `moment`'s week start: when this week's usage row resets."""
    return week_start(moment) + timedelta(days=7)
