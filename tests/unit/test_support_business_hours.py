"""Business-hours arithmetic with fixed instants: weekends, holidays, DST changes, midnight."""

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.support.domain.business_hours import (
    ALWAYS,
    add_business_seconds,
    business_seconds_between,
    parse_calendar,
)

HOUR = 3600
BERLIN_OFFICE = parse_calendar("Europe/Berlin", [(d, "09:00", "17:00") for d in range(1, 6)], ["2026-12-25"])
NEW_YORK_SPLIT = parse_calendar(
    "America/New_York", [(d, "08:00", "12:00") for d in range(1, 6)] + [(d, "13:00", "17:00") for d in range(1, 6)], []
)


def utc(*parts):
    return dt.datetime(*parts, tzinfo=dt.UTC)


def berlin(*parts):
    from zoneinfo import ZoneInfo

    return dt.datetime(*parts, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(dt.UTC)


def test_time_within_one_working_day():
    monday_10 = berlin(2026, 11, 23, 10, 0)
    assert add_business_seconds(BERLIN_OFFICE, monday_10, 2 * HOUR) == berlin(2026, 11, 23, 12, 0)
    assert business_seconds_between(BERLIN_OFFICE, monday_10, berlin(2026, 11, 23, 12, 0)) == 2 * HOUR


def test_a_start_outside_hours_waits_for_the_next_opening():
    sunday_night = berlin(2026, 11, 22, 23, 0)
    assert add_business_seconds(BERLIN_OFFICE, sunday_night, 30 * 60) == berlin(2026, 11, 23, 9, 30)
    assert business_seconds_between(BERLIN_OFFICE, sunday_night, berlin(2026, 11, 23, 9, 0)) == 0


def test_the_weekend_is_skipped():
    friday_16 = berlin(2026, 11, 27, 16, 0)
    due = add_business_seconds(BERLIN_OFFICE, friday_16, 4 * HOUR)
    assert due == berlin(2026, 11, 30, 12, 0)
    assert business_seconds_between(BERLIN_OFFICE, friday_16, due) == 4 * HOUR


def test_holidays_are_skipped():
    thursday_24th_16 = berlin(2026, 12, 24, 16, 0)
    due = add_business_seconds(BERLIN_OFFICE, thursday_24th_16, 2 * HOUR)
    assert due == berlin(2026, 12, 28, 10, 0), "Friday the 25th is a holiday, then the weekend"
    assert business_seconds_between(BERLIN_OFFICE, thursday_24th_16, due) == 2 * HOUR


def test_split_shifts_skip_the_lunch_break():
    from zoneinfo import ZoneInfo

    monday_11 = dt.datetime(2026, 11, 23, 11, 0, tzinfo=ZoneInfo("America/New_York"))
    due = add_business_seconds(NEW_YORK_SPLIT, monday_11.astimezone(dt.UTC), 2 * HOUR)
    assert due.astimezone(ZoneInfo("America/New_York")).hour == 14


def test_spring_forward_day_has_one_hour_less_around_the_clock():
    # Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29.
    midnight = berlin(2026, 3, 29, 0, 0)
    next_midnight = berlin(2026, 3, 30, 0, 0)
    assert business_seconds_between(ALWAYS, midnight, next_midnight) == 23 * HOUR
    all_day = parse_calendar("Europe/Berlin", [(d, "00:00", "24:00") for d in range(1, 8)], [])
    assert business_seconds_between(all_day, midnight, next_midnight) == 23 * HOUR
    assert add_business_seconds(all_day, midnight, 3 * HOUR) == berlin(2026, 3, 29, 4, 0)


def test_office_hours_keep_their_wall_clock_across_the_autumn_change():
    # Berlin leaves summer time on 2026-10-25 (Sunday): Friday 09:00 is 07:00 UTC, Monday 09:00 is 08:00 UTC.
    friday_16 = utc(2026, 10, 23, 14, 0)
    due = add_business_seconds(BERLIN_OFFICE, friday_16, 2 * HOUR)
    assert due == utc(2026, 10, 26, 9, 0), "Monday 10:00 Berlin, now UTC+1"
    assert business_seconds_between(BERLIN_OFFICE, friday_16, due) == 2 * HOUR


def test_a_long_target_spans_many_weeks_exactly():
    start = berlin(2026, 11, 23, 9, 0)
    due = add_business_seconds(BERLIN_OFFICE, start, 80 * HOUR)  # ten 8-hour days
    assert due == berlin(2026, 12, 4, 17, 0)


def test_zero_and_reverse_spans():
    start = berlin(2026, 11, 23, 10, 0)
    assert add_business_seconds(BERLIN_OFFICE, start, 0) == start
    assert business_seconds_between(BERLIN_OFFICE, start, start - dt.timedelta(hours=1)) == 0


def test_bad_calendars_name_their_fields():
    with pytest.raises(InvalidArgument) as caught:
        parse_calendar("Mars/Olympus", [(8, "09:00", "17:00"), (1, "18:00", "09:00"), (2, "9am", "5pm")], ["Xmas"])
    assert {v.field for v in caught.value.violations} == {
        "calendar.time_zone",
        "calendar.working_hours",
        "calendar.holidays",
    }
    with pytest.raises(InvalidArgument):
        parse_calendar("UTC", [(1, "09:00", "12:00"), (1, "11:00", "13:00")], [])
    with pytest.raises(InvalidArgument):
        parse_calendar("UTC", [], [])
