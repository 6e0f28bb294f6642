"""Business calendars that name a country's (and subdivision's) public holidays through the
`holidays` package, besides explicit dates: a 4-business-hour SLA does not breach over
Thanksgiving or Whit Monday. Calendars are read from a rule file, as an admin writes them."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from baton.rules import load_rule_set
from baton.rules.errors import RuleFileError

SLA = """
[[sla]]
id = "pickup"
source = "salesforce:leads"
starts = "MQL"
reach = ["Working - Contacted"]
within = "4h"
calendar = "team"
escalate = [{ after = "4h", task = { subject = "SLA breach: {name}" } }]
"""
FOUR_HOURS = timedelta(hours=4)


def calendar(tmp_path, body):
    (tmp_path / "sla.toml").write_text(f"[calendar.team]\n{body}\n{SLA}")
    [rule] = load_rule_set([tmp_path / "sla.toml"]).slas
    return rule.calendar


def test_thanksgiving_in_new_york_and_the_day_after_in_california(tmp_path):
    ny, la = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
    us = calendar(tmp_path, 'timezone = "America/New_York"\ncountry = "US"')
    start = datetime(2026, 11, 25, 15, 0, tzinfo=ny)  # the Wednesday before, 15:00
    # 2 h on Wednesday, Thursday is Thanksgiving, 2 h on Friday
    assert us.add(start, FOUR_HOURS) == datetime(2026, 11, 27, 11, 0, tzinfo=ny)
    ca = calendar(tmp_path, 'timezone = "America/Los_Angeles"\ncountry = "US"\nsubdivision = "CA"')
    start = datetime(2026, 11, 25, 15, 0, tzinfo=la)
    # California also keeps the day after Thanksgiving: Monday 11:00
    assert ca.add(start, FOUR_HOURS) == datetime(2026, 11, 30, 11, 0, tzinfo=la)


def test_whit_monday_in_germany_and_explicit_dates_beside_the_named_set(tmp_path):
    berlin = ZoneInfo("Europe/Berlin")
    de = calendar(tmp_path, 'timezone = "Europe/Berlin"\ncountry = "DE"')
    start = datetime(2026, 5, 22, 15, 0, tzinfo=berlin)  # the Friday before Whit Monday (25 May)
    assert de.add(start, FOUR_HOURS) == datetime(2026, 5, 26, 11, 0, tzinfo=berlin)
    both = calendar(tmp_path, 'timezone = "America/New_York"\ncountry = "US"\n'
                              'holidays = ["2026-12-24"]')
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 12, 23, 15, 0, tzinfo=ny)  # Christmas Eve (explicit), Christmas (US)
    assert both.add(start, FOUR_HOURS) == datetime(2026, 12, 28, 11, 0, tzinfo=ny)


@pytest.mark.parametrize("body, expected", [
    ('country = "XX"', "expected a country code the holidays package knows"),
    ('subdivision = "CA"', "expected `country` next to `subdivision`"),
    ('country = "US"\nsubdivision = "ZZ"', "expected a subdivision of US the holidays package knows"),
])
def test_an_unknown_holiday_set_is_a_rule_error_naming_the_key(tmp_path, body, expected):
    (tmp_path / "sla.toml").write_text(f"[calendar.team]\n{body}\n{SLA}")
    with pytest.raises(RuleFileError) as error:
        load_rule_set([tmp_path / "sla.toml"])
    assert expected in str(error.value) and "calendar" in str(error.value)
