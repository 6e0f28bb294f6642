"""Deadlines on the UTC timeline: daylight-saving changes never shift them."""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton.rules.business_hours import BusinessCalendar, add_time, parse_duration

NY = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
SDR = BusinessCalendar("sdr", NY, WEEKDAYS, time(9), time(17), frozenset({date(2026, 12, 25)}))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_without_a_calendar_a_deadline_is_plain_utc_arithmetic_across_spring_forward():
    # 2026-03-08 01:30 EST is 06:30 UTC; two hours later the wall clock says 04:30 EDT.
    start = utc(2026, 3, 8, 6, 30)
    deadline = add_time(start, timedelta(hours=2), None)
    assert deadline == utc(2026, 3, 8, 8, 30)
    assert deadline.astimezone(NY).hour == 4


def test_business_hours_over_the_spring_forward_weekend():
    # Friday 2026-03-06 16:30 EST (21:30 UTC) + 1 working hour: 30 min Friday, 30 min Monday.
    start = utc(2026, 3, 6, 21, 30)
    deadline = SDR.add(start, timedelta(hours=1))
    assert deadline.astimezone(NY) == datetime(2026, 3, 9, 9, 30, tzinfo=NY)
    assert deadline == utc(2026, 3, 9, 13, 30)  # EDT is UTC-4 now
    assert SDR.elapsed(start, deadline) == timedelta(hours=1)


def test_business_hours_over_the_fall_back_weekend():
    # Friday 2026-10-30 16:00 EDT (20:00 UTC) + 2 working hours -> Monday 10:00 EST (15:00 UTC).
    start = utc(2026, 10, 30, 20, 0)
    assert SDR.add(start, timedelta(hours=2)) == utc(2026, 11, 2, 15, 0)


def test_a_start_outside_hours_waits_for_the_next_opening_and_skips_holidays():
    christmas_eve_evening = utc(2026, 12, 24, 23, 0)  # Thursday 18:00 EST
    deadline = SDR.add(christmas_eve_evening, timedelta(minutes=5))
    assert deadline.astimezone(NY) == datetime(2026, 12, 28, 9, 5, tzinfo=NY)  # Fri 25th is a holiday


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=60 * 60 * 24 * 10))
def test_added_working_time_is_exactly_the_elapsed_working_time(start, seconds):
    duration = timedelta(seconds=seconds)
    deadline = SDR.add(start, duration)
    assert deadline >= start
    assert SDR.elapsed(start, deadline) == duration


@pytest.mark.parametrize("text, expected", [("90s", timedelta(seconds=90)), ("5m", timedelta(minutes=5)),
                                            ("1h30m", timedelta(minutes=90)), ("2d", timedelta(days=2))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "5x", "-5m", "0m", "5 m"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(ValueError, match="expected a duration like"):
        parse_duration(text)
