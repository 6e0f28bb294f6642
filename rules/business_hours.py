"""Business-hours calendars: deadlines computed on the UTC timeline.

Working hours are local wall-clock times in the team's time zone; each day's window is turned into
UTC with *that day's* offset, and durations are added in UTC. So a daylight-saving change moves
the window's UTC position (as it should: the team still starts at 9:00) but never stretches or
shrinks the time counted.

Holidays are explicit dates, a country's (and subdivision's) public holidays from the
well-kept `holidays` package, or both: `country = "US"`, `subdivision = "CA"` keeps a
4-business-hour SLA from breaching over Thanksgiving and the day after.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 3660  # a deadline ten years out is a configuration error, not a loop


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    holidays: frozenset[date] = frozenset()  # explicit dates, besides the named set
    country: str | None = None  # a public-holiday set of the `holidays` package: "US", "DE"
    subdivision: str | None = None  # its state / province: "CA", "BY"

    def is_holiday(self, day: date) -> bool:
        """An explicit date, or a public holiday of the named country (and subdivision)."""
        return day in self.holidays or (
            self.country is not None and day in named_holidays(self.country, self.subdivision))

    def windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows in UTC, from the one containing `start` onwards."""
        local_day = start.astimezone(self.zone).date()
        for offset in range(_MAX_DAYS):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in self.days or self.is_holiday(day):
                continue
            opens = datetime.combine(day, self.opens, self.zone).astimezone(UTC)
            closes = datetime.combine(day, self.closes, self.zone).astimezone(UTC)
            if closes > start:
                yield max(opens, start), closes
        raise ValueError(f"calendar {self.name!r} has no working time in the next ten years")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when `duration` of working time has passed after `start`."""
        remaining = duration
        for opens, closes in self.windows(start):
            if opens + remaining <= closes:
                return opens + remaining
            remaining -= closes - opens
        raise AssertionError("unreachable")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments."""
        total = timedelta()
        if end <= start:
            return total
        for opens, closes in self.windows(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total


@lru_cache(maxsize=64)
def named_holidays(country: str, subdivision: str | None) -> Any:
    """The public holidays of a country (subdivision), every year on demand (`holidays`
    expands a year the first time a date in it is asked for). Imported here: 9 MB that a
    deployment without a holiday calendar never loads."""
    import holidays as holiday_sets

    return holiday_sets.country_holidays(country, subdiv=subdivision)


def holiday_regions() -> dict[str, list[str]]:
    """Country codes the `holidays` package knows, each with its subdivision codes."""
    import holidays as holiday_sets

    return {code: list(subdivisions)
            for code, subdivisions in holiday_sets.list_supported_countries().items()}


def add_time(start: datetime, duration: timedelta, calendar: BusinessCalendar | None) -> datetime:
    """A deadline: plain UTC arithmetic without a calendar, working time with one."""
    return start + duration if calendar is None else calendar.add(start, duration)


def parse_duration(text: str) -> timedelta:
    """'90s', '5m', '4h', '2d', '1h30m' -> timedelta; ValueError with the expected form."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    value, number, total = text.strip().lower(), "", timedelta()
    if not value:
        raise ValueError("expected a duration like '5m', '4h', '2d' or '1h30m'")
    for char in value:
        if char.isdigit():
            number += char
        elif char in units and number:
            if len(number) > 6:  # timedelta itself overflows near a billion days
                raise ValueError(f"expected a duration of at most 999999 of a unit, found {text!r}")
            total += timedelta(**{units[char]: int(number)})
            number = ""
        else:
            raise ValueError(f"expected a duration like '5m', '4h', '2d' or '1h30m', found {text!r}")
    if number or total <= timedelta():
        raise ValueError(f"expected a duration like '5m', '4h', '2d' or '1h30m', found {text!r}")
    return total
