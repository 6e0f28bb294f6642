"""SLA timers and business calendars declared in rule files.

    [calendar.sdr-hours]
    timezone = "America/New_York"
    days = ["mon", "tue", "wed", "thu", "fri"]
    hours = "09:00-17:00"
    holidays = ["2026-12-25"]

    [[sla]]
    id = "speed-to-lead"
    source = "salesforce:leads"
    starts = "MQL"                        # the timer starts when a record enters this status
    after_gate = "mql-entry"              # optional: not when it failed this gate on entry
    reach = ["Working - Contacted"]       # met when it reaches one of these ...
    or_leave = false                      # ... or (true) when it leaves `starts` for anywhere
    within = "5m"
    calendar = "sdr-hours"                # optional: count working time only
    escalate = [
      { after = "5m", task = { subject = "SLA breach: {name}", owner = "user:Maya Chen" } },
      { after = "15m", reassign = "queue:SDR Overflow", notify = "SLACK_WEBHOOK_URL" },
    ]
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton.rules.business_hours import WEEKDAYS, BusinessCalendar, parse_duration
from baton.core.owners import OwnerRef
from baton.rules.tasks import TaskSpec

DEFAULT_NOTIFY_TEXT = "SLA breach ({sla}): {name} has been in {status} since {started}. {url}"


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after: timedelta  # from the timer's start, in working time when the SLA has a calendar
    task: TaskSpec | None = None
    comment: str | None = None
    reassign: str | None = None  # an owner reference
    notify: str | None = None  # the environment variable holding a Slack/Teams webhook URL
    notify_text: str = DEFAULT_NOTIFY_TEXT


@dataclass(frozen=True, slots=True)
class SlaRule:
    id: str
    source: str
    starts: str
    reach: frozenset[str]
    within: timedelta
    steps: tuple[EscalationStep, ...]
    or_leave: bool = False
    cancel_on_leave: bool = True  # leaving `starts` for a status not in `reach` ends the timer
    after_gate: str | None = None
    calendar: BusinessCalendar | None = None


class SlaProblems(list[tuple[str, str]]):
    """(key path, message) pairs."""


def parse_calendar(name: str, raw: Any, problems: SlaProblems) -> BusinessCalendar | None:
    where = f"calendar[{name}]"
    if not isinstance(raw, Mapping):
        problems.append((where, "expected a table with timezone, days and hours"))
        return None
    _unknown_keys(raw, {"timezone", "days", "hours", "holidays"}, where, problems)
    try:
        zone = ZoneInfo(str(raw.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append((f"{where}.timezone", f"expected an IANA time zone like 'Europe/Berlin', "
                                              f"found {raw.get('timezone')!r}"))
        return None
    days = raw.get("days", list(WEEKDAYS[:5]))
    if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
        problems.append((f"{where}.days", f"expected a list of {', '.join(WEEKDAYS)}, found {days!r}"))
        return None
    match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", str(raw.get("hours", "09:00-17:00")))
    if not match or not (0 <= int(match[1]) < 24 and 0 <= int(match[3]) <= 24):
        problems.append((f"{where}.hours", f"expected 'HH:MM-HH:MM', found {raw.get('hours')!r}"))
        return None
    opens = time(int(match[1]), int(match[2]))
    closes = time(23, 59, 59) if match[3] == "24" else time(int(match[3]), int(match[4]))
    if closes <= opens:
        problems.append((f"{where}.hours", "the closing time must be after the opening time"))
        return None
    holidays = set()
    for index, text in enumerate(raw.get("holidays", [])):
        try:
            holidays.add(text if isinstance(text, date) else date.fromisoformat(str(text)))
        except ValueError:
            problems.append((f"{where}.holidays[{index}]", f"expected YYYY-MM-DD, found {text!r}"))
    return BusinessCalendar(name, zone, frozenset(WEEKDAYS.index(d) for d in days), opens, closes,
                            frozenset(holidays))


def parse_sla(index: int, raw: Any, calendars: Mapping[str, BusinessCalendar],
              problems: SlaProblems) -> SlaRule | None:
    sla_id = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"sla[{sla_id or index}]"
    if not isinstance(raw, Mapping):
        problems.append((where, "expected a table"))
        return None
    _unknown_keys(raw, {"id", "source", "starts", "reach", "or_leave", "cancel_on_leave", "within",
                        "calendar", "after_gate", "escalate", "description"}, where, problems)
    before = len(problems)
    for key in ("id", "source", "starts", "within"):
        if not isinstance(raw.get(key), str) or not raw.get(key).strip():
            problems.append((f"{where}.{key}", "is required (a non-empty string)"))
    reach = raw.get("reach", [])
    if not isinstance(reach, list) or not all(isinstance(s, str) for s in reach):
        problems.append((f"{where}.reach", f"expected a list of statuses, found {reach!r}"))
    elif not reach and not raw.get("or_leave"):
        problems.append((f"{where}.reach", "name the statuses that meet the SLA, or set or_leave = true"))
    within = _duration(raw.get("within"), f"{where}.within", problems)
    calendar = None
    if raw.get("calendar") is not None:
        calendar = calendars.get(str(raw["calendar"]))
        if calendar is None:
            problems.append((f"{where}.calendar", f"no calendar named {raw['calendar']!r} "
                                                  f"(defined: {', '.join(sorted(calendars)) or 'none'})"))
    steps = []
    escalate = raw.get("escalate", [])
    if not isinstance(escalate, list):
        problems.append((f"{where}.escalate", "expected a list of steps"))
        escalate = []
    for number, step in enumerate(escalate):
        parsed = _step(step, f"{where}.escalate[{number}]", problems)
        if parsed:
            steps.append(parsed)
    if steps != sorted(steps, key=lambda s: s.after):
        problems.append((f"{where}.escalate", "steps must be in order of `after`"))
    if len(problems) > before or within is None:
        return None
    return SlaRule(id=raw["id"], source=raw["source"], starts=raw["starts"], reach=frozenset(reach),
                   within=within, steps=tuple(steps), or_leave=bool(raw.get("or_leave", False)),
                   cancel_on_leave=bool(raw.get("cancel_on_leave", True)),
                   after_gate=raw.get("after_gate"), calendar=calendar)


def _step(raw: Any, where: str, problems: SlaProblems) -> EscalationStep | None:
    if not isinstance(raw, Mapping):
        problems.append((where, "expected a table like { after = \"5m\", task = { ... } }"))
        return None
    _unknown_keys(raw, {"after", "task", "comment", "reassign", "notify", "notify_text"}, where, problems)
    after = _duration(raw.get("after"), f"{where}.after", problems)
    task = None
    if raw.get("task") is not None:
        spec = raw["task"]
        if not isinstance(spec, Mapping) or not spec.get("subject"):
            problems.append((f"{where}.task", "expected { subject = \"...\", owner = \"...\" }"))
        else:
            try:
                owner = OwnerRef.parse(str(spec.get("owner", "owner")))
            except ValueError as error:
                problems.append((f"{where}.task.owner", str(error)))
                return None
            task = TaskSpec(subject=str(spec["subject"]),
                            body=str(spec.get("body", "{name} missed the {sla} SLA (deadline {deadline}).\n{url}")),
                            owner=owner)
    reassign = raw.get("reassign")
    if reassign is not None:
        try:
            reassign = str(OwnerRef.parse(str(reassign)))
        except ValueError as error:
            problems.append((f"{where}.reassign", str(error)))
    notify = raw.get("notify")
    if notify is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(notify)):
        problems.append((f"{where}.notify", "expected the NAME of an environment variable that holds "
                                            f"the webhook URL (secrets stay out of rule files), found {notify!r}"))
    if not any(raw.get(k) for k in ("task", "comment", "reassign", "notify")):
        problems.append((where, "a step needs at least one of task, comment, reassign, notify"))
    if after is None:
        return None
    return EscalationStep(after=after, task=task, comment=raw.get("comment"), reassign=reassign,
                          notify=notify, notify_text=str(raw.get("notify_text", DEFAULT_NOTIFY_TEXT)))


def _duration(value: Any, where: str, problems: SlaProblems) -> timedelta | None:
    try:
        return parse_duration(str(value)) if value is not None else None
    except ValueError as error:
        problems.append((where, str(error)))
        return None


def _unknown_keys(raw: Mapping[str, Any], allowed: set[str], where: str, problems: SlaProblems) -> None:
    for key in raw:
        if key not in allowed:
            problems.append((f"{where}.{key}", f"unknown key; expected one of {', '.join(sorted(allowed))}"))
