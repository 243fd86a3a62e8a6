"""Business-hours arithmetic: how much working time lies between two instants, and when a given
amount of working time will have passed. Pure; instants are aware UTC datetimes, the calendar's
hours are wall-clock times in its IANA time zone (zoneinfo), so DST changes are followed."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from crmkit.errors import Validator

# How far ahead add_business_seconds looks before deciding a calendar can never get there.
HORIZON_DAYS = 3 * 366
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    # ISO weekday (1 = Monday ... 7 = Sunday) -> working intervals as (start, end) local minutes of
    # the day, sorted and not overlapping; end may be 1440 (midnight at the end of the day).
    hours: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


ALWAYS = Calendar("UTC", {day: ((0, 1440),) for day in range(1, 8)})


def parse_calendar(
    time_zone: str, hours: list[tuple[int, str, str]], holidays: list[str], prefix: str = "calendar"
) -> Calendar:
    """A validated calendar from API values: (weekday, "09:00", "17:00") rows and ISO dates."""
    check = Validator()
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        check.add(f"{prefix}.time_zone", "must be an IANA time zone such as Europe/Berlin")
    by_day: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in hours:
        if not 1 <= weekday <= 7:
            check.add(f"{prefix}.working_hours", "day must be 1 (Monday) to 7 (Sunday)")
            continue
        if not (_CLOCK.match(start) and _CLOCK.match(end)):
            check.add(f"{prefix}.working_hours", "times are HH:MM, 00:00 to 24:00")
            continue
        first, last = _minutes(start), _minutes(end)
        if first >= last:
            check.add(f"{prefix}.working_hours", f"{start}-{end}: the start must come before the end")
            continue
        by_day.setdefault(weekday, []).append((first, last))
    for weekday, intervals in by_day.items():
        intervals.sort()
        if any(a[1] > b[0] for a, b in itertools.pairwise(intervals)):
            check.add(f"{prefix}.working_hours", f"day {weekday} has overlapping hours")
    if not by_day and hours == []:
        check.add(f"{prefix}.working_hours", "at least one working interval is needed")
    dates = set()
    for text in holidays:
        try:
            dates.add(dt.date.fromisoformat(text))
        except ValueError:
            check.add(f"{prefix}.holidays", f"{text!r} is not a date like 2026-12-25")
    check.raise_if_any()
    return Calendar(time_zone, {d: tuple(v) for d, v in by_day.items()}, frozenset(dates))


def business_seconds_between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> int:
    """Working seconds in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0
    total = 0.0
    for opens, closes in _intervals(calendar, start):
        if opens >= end:
            break
        total += (min(closes, end) - max(opens, start)).total_seconds()
    return int(total)


def add_business_seconds(calendar: Calendar, start: dt.datetime, seconds: int) -> dt.datetime:
    """The instant at which `seconds` of working time have passed since `start`."""
    if seconds <= 0:
        return start
    remaining = dt.timedelta(seconds=seconds)
    for opens, closes in _intervals(calendar, start):
        begin = max(opens, start)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValueError(f"the calendar has no working time within {HORIZON_DAYS} days of {start.isoformat()}")


def _intervals(calendar: Calendar, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Working intervals (UTC) that end after `start`, in order, up to the horizon."""
    zone = calendar.zone
    day = start.astimezone(zone).date() - dt.timedelta(days=1)  # an interval may span into today
    for _ in range(HORIZON_DAYS + 2):
        if day not in calendar.holidays:
            for first, last in calendar.hours.get(day.isoweekday(), ()):
                opens = _instant(day, first, zone)
                closes = _instant(day, last, zone)
                if closes > start and closes > opens:
                    yield opens, closes
        day += dt.timedelta(days=1)


def _instant(day: dt.date, minute: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock minute; 1440 is the next midnight. A wall time that a
    DST jump skips is read as the instant after the jump (zoneinfo's fold=0 on the later offset)."""
    if minute >= 1440:
        day, minute = day + dt.timedelta(days=1), minute - 1440
    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(dt.UTC)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)
